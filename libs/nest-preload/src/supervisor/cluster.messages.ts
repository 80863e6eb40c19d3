import { IPC_PREFIX } from '../preload.constants';

/** Worker → primary: `listen()` resolved; this worker serves. */
export const READY = `${IPC_PREFIX}ready`;
/** Preloader → primary: the preload finished (handed over) or was abandoned. */
export const PRELOAD_DONE = `${IPC_PREFIX}preload-done`;
/** Preloader → primary: its app is built and its steps start now (pipelined start forks the workers then). */
export const STEPS_STARTED = `${IPC_PREFIX}steps-started`;
/** Worker → primary (pipelined start): my app is built; tell me the hand-over when there is one. */
export const AWAIT_HANDOVER = `${IPC_PREFIX}await-handover`;
/** Primary → worker (pipelined start): the preload's outcome. */
export const HANDOVER = `${IPC_PREFIX}handover`;
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
export interface AwaitHandoverMessage { type: typeof AWAIT_HANDOVER }
export type HandoverMessage =
  | { type: typeof HANDOVER; ok: true; manifestPath: string; generation: string }
  | { type: typeof HANDOVER; ok: false; reason: string };

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
