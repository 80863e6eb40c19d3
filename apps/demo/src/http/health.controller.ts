import { PreloadService } from '@lf/nest-preload';
import { PreloadHealthIndicator, statusOnly } from '@lf/nest-preload/terminus';
import type { BundlesResult } from '../components/component-catalog';
import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, type HealthCheckResult, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { DemoConfig } from '../config';
import { DEMO_CACHE, DEMO_CONFIG } from '../demo.tokens';
import type { DemoCache } from '../startup/demo-cache';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly preload: PreloadHealthIndicator,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @Inject(DEMO_CACHE) private readonly cache: DemoCache,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
    private readonly steps: PreloadService,
  ) {}

  /** 200 when this process is ready and no critical step is missing; 503 otherwise. */
  @Get('preload')
  @HealthCheck()
  preloadCheck(): Promise<HealthCheckResult> {
    return statusOnly(() => this.health.check([() => this.preload.isHealthy('preload'), () => this.bundles()]), this.config.healthDetails);
  }

  /** Up while the process serves; its details name the optional bundles that could not be loaded. */
  private bundles() {
    const indicator = this.indicators.check('bundles');
    const complete = this.steps.steps().some((s) => s.name === 'bundles' && s.status === 'complete');
    const result = complete ? this.steps.result<BundlesResult>('bundles') : null;
    return indicator.up({
      loaded: result?.bundles.map((b) => redactUrl(b.source)) ?? [],
      missing:
        result?.missing.map((m) => ({ source: redactUrl(m.source), reason: m.reason.split(m.source).join(redactUrl(m.source)) })) ?? [],
    });
  }

  /** The database, Redis (when configured) and the preload state; statuses only unless HEALTH_DETAILS. */
  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return statusOnly(
      () =>
        this.health.check([
          () => this.db.pingCheck('database', { timeout: 2_000 }),
          ...(this.config.redisUrl ? [() => this.redis()] : []),
          () => this.preload.isHealthy('preload'),
        ]),
      this.config.healthDetails,
    );
  }

  private async redis() {
    const indicator = this.indicators.check('redis');
    return (await this.cache.ping()) ? indicator.up() : indicator.down();
  }
}

/** A bundle URL without what may be a secret (user:password@, query string, fragment); a path is kept as is. */
export function redactUrl(source: string): string {
  if (!/^https?:\/\//i.test(source)) return source;
  try {
    const url = new URL(source);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}
