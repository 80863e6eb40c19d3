/**
 * Where a step's work lives, which decides the lock that guards it:
 * - `process`: output private to the process (its own temp dirs, an in-memory index) — no lock;
 * - `host`: state shared by the processes of one host (files in a shared dir) — the file lock;
 * - `database`: state in the database (migrations, users, seeded rows) — the module's
 *   `databaseLock` when one is set (several hosts), else the file lock (one host).
 */
export type LockScope = 'process' | 'host' | 'database';

/** What the function run under a lock receives. */
export interface HeldLock {
  /** The lock's name. */
  readonly name: string;
  /** Aborted (with a `LockCompromisedError`) when the lock is lost while held. */
  readonly signal: AbortSignal;
  /**
   * The backend's session the lock lives on, for work that must roll back with the lock when that
   * session dies: for `typeOrmAdvisoryLock` a TypeORM `QueryRunner` on the lock's own connection;
   * for `pgAdvisoryLock` the lock's own `pg.Client`; `null` for the file lock.
   */
  readonly session: unknown;
}

/** A startup lock implementation: the file lock (one host) or a database lock (several hosts). */
export interface LockBackend {
  /** Short name for messages and health details, e.g. `file` or `postgres-advisory`. */
  readonly kind: string;
  /** Whether it excludes processes on other hosts too. */
  readonly crossHost: boolean;
  /**
   * Runs `fn` while holding the lock `name`, and releases it whatever `fn` does.
   * @throws LockTimeoutError when the lock stays held elsewhere past `timeoutMs`; nothing ran.
   * @throws LockCompromisedError when the lock was lost while `fn` ran (after `fn` settles).
   */
  withLock<T>(name: string, fn: (held: HeldLock) => Promise<T>, options?: LockOptions): Promise<T>;
}

/** Options of one `withLock` call, whatever the backend. */
export interface LockOptions {
  /**
   * How long to wait for the lock before giving up with `LockTimeoutError`.
   * @default 15000
   */
  timeoutMs?: number;
  /**
   * A lock whose holder has not refreshed it for this long is stale and may be taken over
   * (proper-lockfile's minimum is 2000; the file lock only).
   * @default 10000
   */
  staleMs?: number;
}

/**
 * Defaults of {@link LockOptions}, the same for every backend and for `PreloadModule`'s
 * `lockTimeoutMs` / `lockStaleMs`: the wait is longer than the stale time, so that a lock left by a
 * killed holder is taken over before a waiter gives up.
 */
export const DEFAULT_LOCK_OPTIONS: Required<LockOptions> = { timeoutMs: 15_000, staleMs: 10_000 };

/** Whether `value` looks like a {@link LockBackend} (for option validation). */
export function isLockBackend(value: unknown): value is LockBackend {
  const v = value as Partial<LockBackend> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.withLock === 'function' &&
    typeof v.kind === 'string' &&
    typeof v.crossHost === 'boolean'
  );
}
