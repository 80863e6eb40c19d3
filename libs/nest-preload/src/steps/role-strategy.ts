import type { ResultFiles } from '../handover/result-files';
import type { PreloadRole } from '../preload.constants';
import type { PreloadState } from '../preload-state';
import type { StepPlan } from './step-plan';
import type { StepDefinition } from './step.types';

/** The token of this process's {@link RoleStrategy}, chosen once by `PreloadModule` from the process context. @internal */
export const ROLE_STRATEGY = Symbol('ROLE_STRATEGY');

/**
 * What differs between the roles when the step plan runs, and nothing else: the
 * {@link StepOrchestrator} runs the same way in every process and asks its strategy (in
 * `preloader/`, `worker/`, `standalone/`) which steps to run, whether values are handed over, and
 * what a failure means. @internal
 */
export interface RoleStrategy {
  /** Where the steps run, as recorded in each step's state. */
  readonly role: Exclude<PreloadRole, 'primary'>;
  /** Whether completed values are written to result files for the workers (the preloader). */
  readonly handsOver: boolean;
  /**
   * Whether this process runs the plan from its first step, and so says, once, that database steps
   * run under a host-local lock on a multi-instance platform (a preloaded worker stays quiet).
   */
  readonly runsWholePlan: boolean;
  /**
   * The plan is built and every step is pending: the steps to run, in plan order, and the result
   * files that hold the values this process does not run (a worker's adopted hand-over) or writes
   * (the preloader's).
   */
  select(plan: StepPlan, state: PreloadState): Promise<{ toRun: readonly StepDefinition[]; files: ResultFiles | null }>;
  /** Every step this process had to run has run. */
  finished(state: PreloadState): void;
  /**
   * The plan failed (a critical step, or the plan itself). Throws to fail the start-up — a process
   * that did not start must not serve — or returns the reason for the role to report (the
   * preloader, which must survive to close its app and tell the primary).
   */
  failed(error: unknown, state: PreloadState): string;
}
