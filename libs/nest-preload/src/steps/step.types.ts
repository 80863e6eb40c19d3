import type { PreloadRole } from '../preload.constants';

/** Options of {@link PreloadStep}. */
export interface PreloadStepOptions {
  /** Unique name of the step, used in `after`, the manifest, health details and `result(name)`. */
  name: string;
  /**
   * Steps that must complete before this one.
   * @default []
   */
  after?: string[];
  /**
   * A critical step that fails aborts the preload: state is reset, temp dirs are removed and the
   * workers run the full start-up. A best-effort step that fails is logged and redone by workers.
   * @default false
   */
  critical?: boolean;
}

/** A step as the plan sees it. */
export interface StepDefinition {
  name: string;
  after: readonly string[];
  critical: boolean;
  /** Where it was declared (`Class.method`), for messages. */
  owner: string;
}

/** Status of one step in one process. */
export type StepStatus = 'pending' | 'complete' | 'failed' | 'skipped';

/** What is known of one step in this process. */
export interface StepState {
  name: string;
  critical: boolean;
  status: StepStatus;
  /** The role of the process the step completed or failed in; `null` while pending. */
  ranIn: Exclude<PreloadRole, 'primary'> | null;
  /** How long it ran, in ms; `null` if it did not run. */
  durationMs: number | null;
  /** One-line summary of why it failed or was skipped. */
  error: string | null;
}
