/**
 * Typed lifecycle hooks of the primary (Gunicorn's server hooks). They run in the primary, which
 * never loads the app: keep them light. A hook that throws is logged, never fatal.
 */
export interface SupervisorHooks {
  /** The primary starts (before anything is forked). */
  onStarting(): void;
  /** Every worker is ready for the first time. */
  whenReady(info: { workers: number; generation: string | null; readyMs: number }): void;
  /** A child is about to be forked. */
  preFork(info: { role: 'preloader' | 'worker'; index: number | null }): void;
  /** A child was forked. */
  postFork(info: { role: 'preloader' | 'worker'; index: number | null; pid: number | undefined }): void;
  /** A worker reported ready. */
  workerReady(info: { index: number; pid: number | undefined }): void;
  /** A worker exited; `expected` when the primary had asked it to. */
  workerExit(info: { index: number; pid: number | undefined; code: number | null; signal: NodeJS.Signals | null; expected: boolean }): void;
  /** A rolling reload starts. */
  onReload(info: { workers: number; withPreload: boolean }): void;
  /** The primary is about to exit. */
  onExit(info: { code: number }): void;
}
