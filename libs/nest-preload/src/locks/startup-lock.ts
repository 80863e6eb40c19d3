import { Inject, Injectable, Logger } from '@nestjs/common';
import { PRELOAD_RESOLVED_OPTIONS } from '../preload.module-definition';
import type { ResolvedPreloadOptions } from '../preload.options';
import { FileLock, type LockOptions } from './file-lock';

/**
 * The startup lock, injectable: guards work that must not run twice at once across the
 * processes of this host (seeding, the auto-login superuser) when workers race.
 */
@Injectable()
export class StartupLock {
  private readonly lock: FileLock;
  private readonly logger = new Logger('StartupLock');

  constructor(@Inject(PRELOAD_RESOLVED_OPTIONS) private readonly options: ResolvedPreloadOptions) {
    this.lock = new FileLock(options.lockDir, (message) => this.logger.warn(message));
  }

  /**
   * Runs `fn` while holding the lock `name` (defaults: the module's `lockTimeoutMs`, `lockStaleMs`).
   * @throws LockTimeoutError when it cannot be taken in time.
   * @throws LockCompromisedError when it was lost while `fn` ran.
   */
  withLock<T>(name: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    return this.lock.withLock(name, fn, {
      timeoutMs: options.timeoutMs ?? this.options.lockTimeoutMs,
      staleMs: options.staleMs ?? this.options.lockStaleMs,
    });
  }
}
