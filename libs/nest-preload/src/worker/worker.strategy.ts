import { Logger } from '@nestjs/common';
import { readHandover } from '../handover/handover-reader';
import type { PrimaryLink } from '../ipc/primary-link';
import type { PreloadProcessContext } from '../process-context';
import type { PreloadState } from '../preload-state';
import type { RoleStrategy } from '../steps/role-strategy';
import type { StepPlan } from '../steps/step-plan';
import { startRecorder as recorder } from '../timeline/recorder';
import { awaitHandover } from './handover-client';

/**
 * A worker adopts the preloader's hand-over (or, without a trusted one, does the full start-up)
 * and runs only what it must redo; a failed plan fails its start-up — a worker whose start-up
 * failed must not serve. @internal
 */
export class WorkerStrategy implements RoleStrategy {
  readonly role = 'worker';
  readonly handsOver = false;

  constructor(
    private readonly ctx: PreloadProcessContext,
    private readonly link: PrimaryLink | null,
    /** `artifactCacheBytes`, for the artifact handles this worker hands out. */
    private readonly hotBytes: number,
    private readonly logger = new Logger('Preload'),
  ) {}

  /** Worker 0 with preload off (no hand-over, none to wait for) runs the whole plan. */
  get runsWholePlan(): boolean {
    return !this.ctx.awaitHandover && !this.ctx.manifestPath && this.ctx.workerIndex === 0;
  }

  async select(plan: StepPlan, state: PreloadState) {
    const handover = await this.handover();
    if ('reason' in handover) {
      state.notPreloadedReason = handover.reason;
      this.logger.log(`not preloaded: ${handover.reason}; running the full start-up`);
      return { toRun: plan.ordered, files: null };
    }
    const adoption = readHandover(
      handover.manifestPath,
      { generation: handover.generation, parentPid: this.ctx.parentPid },
      plan,
      this.hotBytes,
    );
    if (!adoption.trusted) {
      state.notPreloadedReason = adoption.reason;
      this.logger.warn(`not preloaded: ${adoption.reason}; running the full start-up`);
      return { toRun: plan.ordered, files: null };
    }
    for (const warning of adoption.warnings) this.logger.warn(warning);
    state.manifest = adoption.manifest;
    for (const record of adoption.adopted) {
      Object.assign(state.steps.get(record.name) as object, {
        status: 'complete',
        ranIn: record.ranIn,
        durationMs: record.durationMs,
        error: null,
      });
    }
    const { redo } = adoption;
    this.logger.log(
      `preloaded from generation ${adoption.manifest.generation}; ${redo.length ? `redoing: ${redo.map((s) => s.name).join(', ')}` : 'nothing to redo'}`,
    );
    return { toRun: redo, files: adoption.files };
  }

  finished(): void {}

  failed(error: unknown): never {
    throw error;
  }

  /**
   * Where this worker's hand-over is: from its environment, or — pipelined start — asked of the
   * primary once the app is built, so no step runs here while the preloader still runs.
   */
  private async handover(): Promise<{ manifestPath: string; generation: string } | { reason: string }> {
    if (this.ctx.awaitHandover) {
      this.logger.log('app built; waiting for the preload hand-over before running any step');
      const answer = await recorder.time('hand-over wait', 'handover', () => awaitHandover(this.link));
      return answer.ok
        ? { manifestPath: answer.manifestPath, generation: answer.generation }
        : { reason: `the preload was abandoned (${answer.reason})` };
    }
    const { manifestPath, generation } = this.ctx;
    return manifestPath && generation
      ? { manifestPath, generation }
      : { reason: 'no preload hand-over was given to this worker (preload off or failed)' };
  }
}
