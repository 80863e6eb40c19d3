import { Inject, Injectable, Module } from '@nestjs/common';
import { type HealthIndicatorResult, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
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
    const details = this.options.healthDetails ? { ...this.details(missing), cluster: await this.preload.clusterStatus(clusterTimeoutMs) } : {};
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
