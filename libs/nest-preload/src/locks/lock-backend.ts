import type { LockOptions } from './file-lock';

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

/** Lock names: what is safe in a file name and in a message. */
export const LOCK_NAME = /^[A-Za-z0-9_.-]+$/;

/** Whether `value` looks like a {@link LockBackend} (for option validation). */
export function isLockBackend(value: unknown): value is LockBackend {
  const v = value as Partial<LockBackend> | null;
  return typeof v === 'object' && v !== null && typeof v.withLock === 'function' && typeof v.kind === 'string' && typeof v.crossHost === 'boolean';
}
