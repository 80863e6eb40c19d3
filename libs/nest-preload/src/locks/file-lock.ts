import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as lockfile from 'proper-lockfile';
import { LockCompromisedError, LockTimeoutError, PreloadConfigError } from '../errors/preload.error';
import { processAlive } from '../control/process-alive';
import { msAsSeconds, PreloadMessages } from '../errors/preload.messages';
import { PRELOAD_ENV } from '../preload.constants';
import { DEFAULT_LOCK_OPTIONS, type HeldLock, type LockBackend, type LockOptions } from './lock-backend';
import { isSafeName, NAME_RULE_TEXT } from '../name-rule';
import { LockWait } from './lock-wait';

/**
 * A host-local startup lock: a directory created atomically with `mkdir` (proper-lockfile),
 * refreshed while held and taken over once stale. It saves work; correctness still comes from
 * the database's unique constraints.
 */
export class FileLock implements LockBackend {
  readonly kind = 'file';
  /** A file lock cannot see processes on other hosts, even on a shared filesystem. */
  readonly crossHost = false;

  constructor(
    /** Where the lock dirs live; every process that must be excluded has to use the same dir. */
    readonly dir: string,
    private readonly warn: (message: string) => void = () => undefined,
    /** Where the lines of a wait go (who holds it, every few seconds, acquired after how long). */
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  /**
   * Runs `fn` while holding the lock `name`.
   * @throws LockTimeoutError when the lock stays held by someone else past `timeoutMs`.
   * @throws LockCompromisedError when the lock was lost while `fn` ran (after `fn` settles).
   */
  async withLock<T>(name: string, fn: (held: HeldLock) => Promise<T>, options: LockOptions = {}): Promise<T> {
    if (!isSafeName(name)) {
      throw new PreloadConfigError(PreloadMessages.invalidOption('lock name', name, NAME_RULE_TEXT));
    }
    const { timeoutMs, staleMs } = { ...DEFAULT_LOCK_OPTIONS, ...options };
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const target = join(this.dir, name);
    const lockfilePath = `${target}.lock`;
    let compromised: Error | undefined;
    const lost = new AbortController();
    const deadline = Date.now() + timeoutMs;
    let delayMs = 20;
    let release: () => Promise<void>;
    // Who holds it, written beside the lock dir by the holder (proper-lockfile's dir must stay empty).
    const holderPath = `${target}.holder.json`;
    const wait = new LockWait(`startup lock "${name}"`, timeoutMs, this.log);
    for (;;) {
      try {
        release = await lockfile.lock(target, {
          realpath: false,
          lockfilePath,
          stale: staleMs,
          retries: 0,
          // proper-lockfile's default throws from a timer, which would crash the process.
          onCompromised: (error: Error) => {
            compromised = error;
            lost.abort(new LockCompromisedError(PreloadMessages.lockCompromised(name, error.message), name, { cause: error }));
            this.warn(PreloadMessages.lockCompromised(name, error.message));
          },
        });
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
        const left = deadline - Date.now();
        if (left <= 0) throw new LockTimeoutError(PreloadMessages.lockTimeout(name, timeoutMs, lockfilePath), name, timeoutMs);
        await wait.blocked(() => describeHolder(holderPath));
        await sleep(Math.min(delayMs, left));
        delayMs = Math.min(delayMs * 2, 250);
      }
    }
    wait.acquired();
    try {
      writeFileSync(
        holderPath,
        JSON.stringify({
          pid: process.pid,
          host: hostname(),
          role: process.env[PRELOAD_ENV.role] ?? 'standalone',
          worker: process.env[PRELOAD_ENV.workerIndex],
          since: Date.now(),
        }),
      );
    } catch {
      // Only the waiters' messages lose the holder's name.
    }
    try {
      return await fn({ name, signal: lost.signal, session: null });
    } finally {
      if (!compromised) rmSync(holderPath, { force: true });
      await release().catch((error: NodeJS.ErrnoException) => {
        if (!compromised) this.warn(`releasing the startup lock "${name}" failed: ${error.message}`);
      });
      if (compromised) {
        // eslint-disable-next-line no-unsafe-finally -- losing the lock outranks fn's own outcome
        throw new LockCompromisedError(PreloadMessages.lockCompromised(name, compromised.message), name, { cause: compromised });
      }
    }
  }
}

/** Who holds a file lock, from the note its holder wrote: `pid 123 (worker 2) on host-a, for 4.2 s`. */
function describeHolder(holderPath: string): string {
  let note: { pid?: unknown; host?: unknown; role?: unknown; worker?: unknown; since?: unknown };
  try {
    note = JSON.parse(readFileSync(holderPath, 'utf8'));
  } catch {
    return 'another process';
  }
  const role = note.role === 'worker' && note.worker !== undefined ? `worker ${String(note.worker)}` : String(note.role ?? 'unknown role');
  const held = typeof note.since === 'number' ? `, for ${msAsSeconds(Date.now() - note.since)} s` : '';
  const gone =
    note.host === hostname() && typeof note.pid === 'number' && !processAlive(note.pid)
      ? '; that process is gone, so the lock is taken over once it is stale'
      : '';
  return `pid ${String(note.pid)} (${role}) on ${String(note.host)}${held}${gone}`;
}
