/** A forked child as the supervisor sees it. */
export interface ChildHandle {
  readonly pid: number | undefined;
  send(message: unknown): void;
  kill(signal: NodeJS.Signals): void;
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}

/** Forks children running the same entry file (node:cluster in production). */
export interface ClusterPort {
  /** Forks this entry with `env`; `execArgv` adds Node flags after the primary's own. */
  fork(env: Record<string, string>, execArgv?: readonly string[]): ChildHandle;
}

/** The primary's own process. */
export interface ProcessPort {
  readonly pid: number;
  onSignal(signal: NodeJS.Signals, listener: () => void): void;
  removeSignalListeners(): void;
}

/** Time, so tests can drive it. */
export interface TimerPort {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
  /** Epoch ms on the clock the children's start-up timelines use (`performance.timeOrigin + performance.now()`); else `Date.now()`. */
  wallClock?(): number;
}

/** Where the primary's lines go. */
export interface SupervisorLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** A step's record as `status` shows it. */
export interface StepLine {
  name: string;
  status: string;
  ranIn: string | null;
  durationMs: number | null;
  critical: boolean;
  /**
   * A step the preloader did not complete: of the ready workers of the current generation, how many
   * redid it and how many completed it (e.g. 4 of 4 redid it, 4 completed).
   */
  workers?: { of: number; ran: number; complete: number };
}

/**
 * The filesystem and `/proc` as the primary uses them, so that the state machine's specs touch no
 * real dir. Every method is synchronous and never throws where it says it returns an error.
 */
export interface HostPort {
  /** Removes what processes that are gone left in `roots`; returns what it removed. */
  sweep(roots: readonly string[]): string[];
  /** Creates this cluster's private dir (0700, owner-marked) under `runRoot`. */
  makeClusterDir(runRoot: string, pid: number): string;
  /** Creates a private dir (0700); with `generation`, owner-marked for it. */
  makeDir(path: string, generation?: string): void;
  /** Removes a dir; returns why it could not, or null. */
  removeDir(path: string): string | null;
  /** The steps recorded in a manifest, or [] when it cannot be read. */
  manifestSteps(manifestPath: string): StepLine[];
  /** PSS of a process in MB, or null where it cannot be read. */
  pssMb(pid: number): number | null;
  /** Writes a file whole (its dir created if missing; readers never see half of it); returns why it could not, or null. */
  writeFile(path: string, text: string): string | null;
}
