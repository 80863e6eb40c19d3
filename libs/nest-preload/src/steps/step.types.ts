import type { HeldLock, LockScope } from '../locks/lock-backend';
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
  /**
   * Where the step's work lives, which decides the lock it runs under (named `step-<name>`):
   * `process` (private output: no lock), `host` (shared files: the file lock) or `database`
   * (the module's `databaseLock` when set — several hosts — else the file lock). The step reads
   * the state it depends on inside the lock, so a second runner finds the work done.
   * @default 'host'
   */
  scope?: LockScope;
  /**
   * `false`: the runner takes no lock; the step takes its own (through `StartupLock`, with its
   * `scope`), e.g. to answer a lock timeout itself. `scope` still says where its work lives.
   * @default true
   */
  lock?: boolean;
  /**
   * How long to wait for the step's lock before the step fails with `LockTimeoutError`.
   * @default the module's `lockTimeoutMs`
   */
  lockTimeoutMs?: number;
}

/** What a step method receives. */
export interface StepContext {
  /** The step's lock while it runs; `null` for a `process`-scope step. */
  lock: HeldLock | null;
}

/** A step as the plan sees it. */
export interface StepDefinition {
  name: string;
  after: readonly string[];
  critical: boolean;
  /** @default 'host' */
  scope?: LockScope;
  lockTimeoutMs?: number;
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
