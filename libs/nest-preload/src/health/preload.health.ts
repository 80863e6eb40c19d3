import { Inject, Injectable, Module, ServiceUnavailableException } from '@nestjs/common';
import { type HealthCheckResult, type HealthIndicatorResult, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { PRELOAD_RESOLVED_OPTIONS } from '../preload.module-definition';
import type { ResolvedPreloadOptions } from '../preload.options';
import { PreloadService } from '../preload.service';

/**
 * Terminus indicator: up when this process finished its start-up and no critical step is
 * missing. Details (role, pid, generation, steps) only with `healthDetails: true`.
 */
@Injectable()
export class PreloadHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly preload: PreloadService,
    @Inject(PRELOAD_RESOLVED_OPTIONS) private readonly options: ResolvedPreloadOptions,
  ) {}

  /**
   * Checks the preload state under `key`. With `healthDetails`, the details also carry the
   * cluster view that only the primary has (asked over IPC, waiting at most `clusterTimeoutMs`).
   */
  async isHealthy(key = 'preload', clusterTimeoutMs = 1_000): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    const missing = this.preload.missingCriticalSteps();
    const up = this.preload.isReady() && missing.length === 0;
    const details = this.options.healthDetails
      ? { ...this.details(missing), cluster: await this.preload.clusterStatus(clusterTimeoutMs) }
      : {};
    return up ? indicator.up(details) : indicator.down(details);
  }

  private details(missing: string[]): Record<string, unknown> {
    return {
      leader: this.preload.isLeader(),
      role: this.preload.role,
      pid: process.pid,
      workerIndex: this.preload.workerIndex,
      preloaded: this.preload.isPreloaded(),
      generation: this.preload.generation,
      notPreloadedReason: this.preload.notPreloadedReason(),
      missingCritical: missing,
      steps: this.preload.steps().map(({ name, status, ranIn, durationMs, critical }) => ({ name, status, ranIn, durationMs, critical })),
    };
  }
}

/** Provides {@link PreloadHealthIndicator}; import it next to `PreloadModule` and `TerminusModule`. */
@Module({ imports: [TerminusModule], providers: [PreloadHealthIndicator], exports: [PreloadHealthIndicator, TerminusModule] })
export class PreloadHealthModule {}

/** Keeps only each indicator's status: no messages (driver errors, hostnames), paths, pids or versions. */
function redact(result: HealthCheckResult): HealthCheckResult {
  const strip = (section?: Partial<HealthIndicatorResult>): HealthIndicatorResult | undefined =>
    section &&
    Object.fromEntries(Object.entries(section).map(([key, value]) => [key, { status: (value as { status: 'up' | 'down' }).status }]));
  return {
    status: result.status,
    info: strip(result.info),
    error: strip(result.error),
    details: strip(result.details) as HealthIndicatorResult,
  };
}

/**
 * Runs a terminus check and, unless `details`, answers with the statuses only — also in the 503
 * body, where terminus would otherwise pass each failing indicator's message (a database driver's
 * error, say) to an unauthenticated caller.
 */
export async function statusOnly(check: () => Promise<HealthCheckResult>, details = false): Promise<HealthCheckResult> {
  if (details) return check();
  try {
    return redact(await check());
  } catch (error) {
    if (error instanceof ServiceUnavailableException)
      throw new ServiceUnavailableException(redact(error.getResponse() as HealthCheckResult));
    throw error;
  }
}
