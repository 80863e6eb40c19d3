import nodeModule from 'node:module';
import { Logger } from '@nestjs/common';
import { CriticalStepError } from '../errors/preload.error';
import { ResultFiles } from '../handover/result-files';
import { STEPS_STARTED } from '../ipc/messages';
import type { PrimaryLink } from '../ipc/primary-link';
import type { PreloadProcessContext } from '../process-context';
import type { PreloadState } from '../preload-state';
import type { RoleStrategy } from '../steps/role-strategy';
import type { StepPlan } from '../steps/step-plan';
import { summarize, summaryTable } from '../steps/step-runner';

/**
 * The preloader runs every step, writes each value for the workers, and survives a failed plan so
 * that it can close its app and tell the primary why. @internal
 */
export class PreloaderStrategy implements RoleStrategy {
  readonly role = 'preloader';
  readonly handsOver = true;
  readonly runsWholePlan = true;

  constructor(
    private readonly ctx: PreloadProcessContext,
    private readonly link: PrimaryLink | null,
    private readonly logger = new Logger('Preload'),
  ) {}

  async select(plan: StepPlan) {
    // Node ≥ 22.10 with the cluster's compile cache: what building the app compiled is written
    // now, before the workers are forked, so their boot reuses it.
    if (process.env.NODE_COMPILE_CACHE) (nodeModule as { flushCompileCache?: () => void }).flushCompileCache?.();
    // Pipelined start: the primary forks the workers now, so their boot overlaps the steps
    // instead of competing with this process's own boot.
    void this.link?.send({ type: STEPS_STARTED });
    return { toRun: plan.ordered, files: this.ctx.runDir ? new ResultFiles(this.ctx.runDir) : null };
  }

  finished(state: PreloadState): void {
    this.logger.log(`preload summary:\n${summaryTable(state.steps.values())}`);
  }

  failed(error: unknown, state: PreloadState): string {
    const reason = error instanceof CriticalStepError ? error.message : `the preload plan could not run: ${summarize(error)}`;
    state.abortReason = reason;
    if (state.steps.size) this.logger.log(`preload summary (abandoned):\n${summaryTable(state.steps.values())}`);
    const stack = error instanceof CriticalStepError ? error.cause : error;
    this.logger.error(reason, stack instanceof Error ? stack.stack : undefined);
    return reason;
  }
}
