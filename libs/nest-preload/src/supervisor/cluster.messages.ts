import { IPC_PREFIX } from '../preload.constants';

/** Worker → primary: `listen()` resolved; this worker serves. */
export const READY = `${IPC_PREFIX}ready`;
/** Preloader → primary: the preload finished (handed over) or was abandoned. */
export const PRELOAD_DONE = `${IPC_PREFIX}preload-done`;
/** Primary → worker: stop accepting, finish in-flight requests, exit. */
export const SHUTDOWN = `${IPC_PREFIX}shutdown`;

export interface ReadyMessage { type: typeof READY; pid: number; preloaded: boolean }
export interface PreloadDoneMessage {
  type: typeof PRELOAD_DONE;
  ok: boolean;
  manifestPath: string | null;
  reason: string | null;
  /** Handles still open when the preloader was about to exit ("ghosts"), by resource name. */
  lingering: string[];
}
export interface ShutdownMessage { type: typeof SHUTDOWN }

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
