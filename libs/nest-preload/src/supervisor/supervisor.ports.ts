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
}

/** Where the primary's lines go. */
export interface SupervisorLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
