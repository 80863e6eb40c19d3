import { dispatch, type DispatchTable } from './dispatch';
import type { PrimaryMessages } from './messages';

/**
 * A child's link to its primary: the only place in the library that speaks on the process's IPC
 * channel. The worker, the preloader, the hand-over client, `PreloadService.clusterStatus()`,
 * the metrics and the start-up timeline all talk through it. Where there is no primary
 * (standalone, one-shot, a test runner) there is no link: `primaryLink()` is `null`.
 */
export interface PrimaryLink {
  /** Whether the channel is still open (false once the primary is gone). */
  readonly connected: boolean;
  /**
   * Sends a message; resolves once Node handed it to the OS, at once when the channel is closed
   * (a message to a primary that is gone is dropped). Never rejects.
   */
  send(message: { type: string }): Promise<void>;
  /** Handles the primary's messages with `table`; returns the function that stops listening. */
  listen(table: DispatchTable<PrimaryMessages>): () => void;
}

/** The link over a real process's IPC channel. */
export class ProcessPrimaryLink implements PrimaryLink {
  constructor(private readonly proc: NodeJS.Process) {}

  get connected(): boolean {
    return this.proc.connected === true && typeof this.proc.send === 'function';
  }

  send(message: { type: string }): Promise<void> {
    return new Promise<void>((resolve) => {
      if (!this.connected) return resolve();
      try {
        this.proc.send?.(message, undefined, {}, () => resolve());
      } catch {
        // The channel closed between the check and the send (ERR_IPC_CHANNEL_CLOSED).
        resolve();
      }
    });
  }

  listen(table: DispatchTable<PrimaryMessages>): () => void {
    const listener = (message: unknown) => void dispatch(message, table);
    this.proc.on('message', listener);
    return () => void this.proc.off('message', listener);
  }
}

let shared: ProcessPrimaryLink | null = null;

/** This process's link to the process that forked it over IPC, or `null` when nothing did. */
export function primaryLink(): PrimaryLink | null {
  if (typeof process.send !== 'function') return null;
  return (shared ??= new ProcessPrimaryLink(process));
}

/** Nest token of the link a serving child has to our primary (`null` anywhere else: standalone, one-shot, tests). */
export const PRIMARY_LINK = Symbol('PRIMARY_LINK');
