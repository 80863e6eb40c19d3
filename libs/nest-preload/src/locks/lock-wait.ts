import { PreloadMessages } from '../errors/preload.messages';

/** How often a process still waiting for a startup lock says so. */
export const LOCK_WAIT_LOG_EVERY_MS = 5_000;

/**
 * What one lock acquisition says while it waits, as Langflow's migration lock does: a line when it
 * first finds the lock held (who holds it, how long it will wait), another every
 * {@link LOCK_WAIT_LOG_EVERY_MS} while it still waits, and one when it gets the lock after
 * waiting, with the time waited. An acquisition that never waits says nothing.
 * @internal
 */
export class LockWait {
  private readonly started = Date.now();
  private lastLog: number | undefined;

  constructor(
    private readonly what: string,
    private readonly timeoutMs: number,
    private readonly log: (message: string) => void,
    private readonly everyMs = LOCK_WAIT_LOG_EVERY_MS,
  ) {}

  /** Called each time an attempt finds the lock held; `holder()` is asked only when a line is due. */
  async blocked(holder: () => Promise<string> | string): Promise<void> {
    const now = Date.now();
    if (this.lastLog !== undefined && now - this.lastLog < this.everyMs) return;
    const first = this.lastLog === undefined;
    this.lastLog = now;
    let who: string;
    try {
      who = await holder();
    } catch {
      who = 'another process';
    }
    this.log(
      first
        ? PreloadMessages.lockWaiting(this.what, who, this.timeoutMs)
        : PreloadMessages.lockStillWaiting(this.what, who, now - this.started, this.timeoutMs),
    );
  }

  /** Called once the lock is held. */
  acquired(): void {
    if (this.lastLog !== undefined) this.log(PreloadMessages.lockAcquiredAfterWait(this.what, Date.now() - this.started));
  }
}
