import { Inject, Injectable, Logger } from '@nestjs/common';
import { PRELOAD_RESOLVED_OPTIONS } from '../preload.module-definition';
import type { ResolvedPreloadOptions } from '../preload.options';
import { FileLock } from './file-lock';
import type { HeldLock, LockBackend, LockOptions, LockScope } from './lock-backend';
import { startRecorder } from '../timeline/recorder';
import { LockTimeoutError } from '../errors/preload.error';

/** Options of one {@link StartupLock.withLock} call. */
export interface StartupLockOptions extends LockOptions {
  /**
   * `host` takes the file lock; `database` takes the module's `databaseLock` when one is set
   * (several hosts), else the file lock.
   * @default 'host'
   */
  scope?: Exclude<LockScope, 'process'>;
}

/**
 * The startup lock, injectable: guards work that must not run twice at once — across the
 * processes of this host (the file lock), or across hosts for database work when the module has
 * a `databaseLock` (e.g. a PostgreSQL advisory lock).
 */
@Injectable()
export class StartupLock {
  private readonly fileLock: FileLock;
  private readonly logger = new Logger('StartupLock');

  constructor(@Inject(PRELOAD_RESOLVED_OPTIONS) private readonly options: ResolvedPreloadOptions) {
    this.fileLock = new FileLock(
      options.lockDir,
      (message) => this.logger.warn(message),
      (message) => this.logger.log(message),
    );
  }

  /** The backend that guards work of `scope`. */
  backendFor(scope: Exclude<LockScope, 'process'> = 'host'): LockBackend {
    return scope === 'database' && this.options.databaseLock ? this.options.databaseLock : this.fileLock;
  }

  /**
   * Runs `fn` while holding the lock `name` of `scope` (defaults: the module's `lockTimeoutMs`,
   * `lockStaleMs`). Read the state the work depends on inside `fn`, not before.
   * @throws LockTimeoutError when it cannot be taken in time.
   * @throws LockCompromisedError when it was lost while `fn` ran.
   */
  withLock<T>(name: string, fn: (held: HeldLock) => Promise<T>, options: StartupLockOptions = {}): Promise<T> {
    // The time until the lock is held goes into the start-up timeline, inside its step; a wait
    // that ended without the lock (a timeout) too, marked so.
    const asked = startRecorder.now();
    let held = false;
    const waited = (args: Record<string, boolean> = {}) =>
      startRecorder.add(`lock wait ${name}`, 'lock', asked, startRecorder.now(), { scope: options.scope ?? 'host', ...args });
    const timed = (lock: HeldLock) => {
      held = true;
      waited();
      return fn(lock);
    };
    return this.backendFor(options.scope)
      .withLock(name, timed, {
        timeoutMs: options.timeoutMs ?? this.options.lockTimeoutMs,
        staleMs: options.staleMs ?? this.options.lockStaleMs,
      })
      .catch((error: unknown) => {
        if (!held) waited({ timedOut: error instanceof LockTimeoutError });
        throw error;
      });
  }
}
