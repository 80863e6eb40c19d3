import { PreloadHealthIndicator, statusOnly } from '@lf/nest-preload/terminus';
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
  ) {}

  /** 200 when this process is ready and no critical step is missing; 503 otherwise. */
  @Get('preload')
  @HealthCheck()
  preloadCheck(): Promise<HealthCheckResult> {
    return statusOnly(() => this.health.check([() => this.preload.isHealthy('preload')]), this.config.healthDetails);
  }

  /** The database, Redis (when configured) and the preload state; statuses only unless HEALTH_DETAILS. */
  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return statusOnly(() => this.health.check([
      () => this.db.pingCheck('database', { timeout: 2_000 }),
      ...(this.config.redisUrl ? [() => this.redis()] : []),
      () => this.preload.isHealthy('preload'),
    ]), this.config.healthDetails);
  }

  private async redis() {
    const indicator = this.indicators.check('redis');
    return (await this.cache.ping()) ? indicator.up() : indicator.down();
  }
}
