import { Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockCompromisedError, LockTimeoutError, LockConnectError, PreloadConfigError } from '../errors/preload.error';
import { PreloadMessages } from '../errors/preload.messages';
import { DEFAULT_LOCK_OPTIONS, type HeldLock, type LockBackend, type LockOptions } from './lock-backend';
import { isSafeName, NAME_RULE_TEXT } from '../name-rule';
import { LockWait } from './lock-wait';

/**
 * One dedicated PostgreSQL connection, as {@link PgAdvisoryLock} needs it. Session-level advisory
 * locks belong to the connection: it must not be a pooled connection that serves other work.
 */
export interface AdvisoryLockSession {
  /** Runs one statement with `$1…` parameters and returns its rows. */
  query(sql: string, params: unknown[]): Promise<Array<Record<string, unknown>>>;
  /** Registers a listener called once if the connection is lost (killed, server gone). */
  onLost(listener: (error: Error) => void): void;
  /** Closes the connection (which also releases any lock it still holds). */
  close(): Promise<void>;
  /** What {@link HeldLock.session} hands to the guarded work (e.g. a TypeORM QueryRunner). */
  readonly handle: unknown;
}

/** Options of {@link PgAdvisoryLock}. */
export interface PgAdvisoryLockOptions {
  /** Opens a new dedicated connection; called once per acquisition. */
  connect(): Promise<AdvisoryLockSession>;
  /**
   * Namespace of the keys: the first of the two int4 keys is derived from it, so our locks cannot
   * collide with other tools' advisory locks (which mostly use the one-bigint form) or with another
   * app's that uses a different namespace.
   * @default 'nest-preload'
   */
  namespace?: string;
  /** Where it connects, for messages (never include a password). */
  target?: string;
  /**
   * First wait between two `pg_try_advisory_lock` attempts; doubles (with jitter) up to `retryMaxMs`.
   * @default 50
   */
  retryMinMs?: number;
  /** @default 1000 */
  retryMaxMs?: number;
  /**
   * Where the lines of a wait go: who holds the lock (backend pid, application name, client
   * address, for how long) when a wait starts and every 5 s, and the time waited once acquired.
   * @default Nest's `Logger` with the context `StartupLock`, at `log` level
   */
  log?: (message: string) => void;
}

/**
 * The loss watch of a connection's {@link AdvisoryLockSession}: listeners registered with `onLost`
 * are called once when the client emits `error` or `end` — unless `closing()` was called first
 * (our own close is not a loss). @internal
 */
export function watchConnectionLoss(client: NodeJS.EventEmitter): { onLost(listener: (error: Error) => void): void; closing(): void } {
  const listeners: Array<(error: Error) => void> = [];
  let closing = false;
  const lost = (error?: Error) => {
    if (closing) return;
    const reason = error ?? new Error('the connection ended');
    for (const listener of listeners.splice(0)) listener(reason);
  };
  client.on('error', lost);
  client.on('end', lost);
  return { onLost: (listener) => void listeners.push(listener), closing: () => void (closing = true) };
}

/** `host:port/database` of PostgreSQL connection settings, never with credentials. @internal */
export function describePgTarget(o: { url?: string; connectionString?: string; host?: string; port?: number; database?: string }): string {
  const url = o.url ?? o.connectionString;
  if (url) {
    try {
      const parsed = new URL(url);
      return `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
    } catch {
      return 'PostgreSQL';
    }
  }
  return `${o.host ?? 'localhost'}:${o.port ?? 5432}/${o.database ?? ''}`;
}

/** The two int4 keys of an advisory lock: as `pg_locks` shows them, `classid` and `objid` (with `objsubid = 2`). */
export function advisoryKeys(namespace: string, name: string): [number, number] {
  const key = (text: string) => createHash('sha256').update(text).digest().readUInt32BE(0) & 0x7fffffff;
  return [key(`nest-preload-namespace:${namespace}`), key(name)];
}

/**
 * A startup lock that holds across hosts: a PostgreSQL session-level advisory lock on a dedicated
 * connection. It is taken with `pg_try_advisory_lock` in a loop with backoff until a deadline (so
 * a timeout ends in a clear error instead of a hung start), released with `pg_advisory_unlock`,
 * and released by the server when the connection dies — a killed holder never leaves it behind.
 */
export class PgAdvisoryLock implements LockBackend {
  readonly kind = 'postgres-advisory';
  readonly crossHost = true;
  private readonly namespace: string;
  private readonly log: (message: string) => void;

  constructor(private readonly options: PgAdvisoryLockOptions) {
    if (typeof options?.connect !== 'function') throw new PreloadConfigError(PreloadMessages.pgConnectMissing());
    this.namespace = options.namespace ?? 'nest-preload';
    const logger = new Logger('StartupLock');
    this.log = options.log ?? ((message) => logger.log(message));
    if (typeof this.namespace !== 'string' || !this.namespace)
      throw new PreloadConfigError(PreloadMessages.invalidOption('namespace', options.namespace, 'a non-empty string'));
  }

  async withLock<T>(name: string, fn: (held: HeldLock) => Promise<T>, options: LockOptions = {}): Promise<T> {
    if (!isSafeName(name)) {
      throw new PreloadConfigError(PreloadMessages.invalidOption('lock name', name, NAME_RULE_TEXT));
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_OPTIONS.timeoutMs;
    const [ns, key] = advisoryKeys(this.namespace, name);
    const deadline = Date.now() + timeoutMs;
    let session: AdvisoryLockSession;
    try {
      session = await this.options.connect();
    } catch (error) {
      throw new LockConnectError(PreloadMessages.lockConnectFailed(name, this.where(), (error as Error).message), name, { cause: error });
    }
    const lost = new AbortController();
    session.onLost((error) => {
      if (!lost.signal.aborted)
        lost.abort(
          new LockCompromisedError(PreloadMessages.lockCompromised(name, `its database session ended: ${error.message}`), name, {
            cause: error,
          }),
        );
    });
    try {
      await this.acquire(session, name, ns, key, deadline, timeoutMs);
    } catch (error) {
      await session.close().catch(() => undefined);
      throw error;
    }
    try {
      return await fn({ name, signal: lost.signal, session: session.handle });
    } finally {
      if (!lost.signal.aborted) await session.query('select pg_advisory_unlock($1, $2)', [ns, key]).catch(() => undefined);
      await session.close().catch(() => undefined);
      // eslint-disable-next-line no-unsafe-finally -- losing the lock outranks fn's own outcome
      if (lost.signal.aborted) throw lost.signal.reason;
    }
  }

  private async acquire(
    session: AdvisoryLockSession,
    name: string,
    ns: number,
    key: number,
    deadline: number,
    timeoutMs: number,
  ): Promise<void> {
    const min = this.options.retryMinMs ?? 50;
    const max = this.options.retryMaxMs ?? 1_000;
    let delay = min;
    const wait = new LockWait(`database lock "${name}"${this.where()}`, timeoutMs, this.log);
    for (;;) {
      const [row] = await session.query('select pg_try_advisory_lock($1, $2) as ok', [ns, key]);
      if (row?.ok === true) return wait.acquired();
      const left = deadline - Date.now();
      if (left <= 0) throw new LockTimeoutError(await this.timeoutMessage(session, name, ns, key, timeoutMs), name, timeoutMs);
      await wait.blocked(() => this.holder(session, ns, key));
      // Full jitter keeps hosts that started together from retrying in lockstep.
      await sleep(Math.min(left, Math.round(delay / 2 + Math.random() * (delay / 2))));
      delay = Math.min(delay * 2, max);
    }
  }

  /** The timeout message, naming who holds the lock as far as the server can tell. */
  private async timeoutMessage(session: AdvisoryLockSession, name: string, ns: number, key: number, timeoutMs: number): Promise<string> {
    const holder = await this.holder(session, ns, key);
    return (
      `Timed out after ${timeoutMs} ms waiting for the database lock "${name}"${this.where()} (advisory keys ${ns}, ${key}), held by ${holder}. ` +
      `Nothing was done under it. If that holder is stuck, end it with select pg_terminate_backend(<pid>) (its work rolls back and the lock is released), then start again.`
    );
  }

  /** Who holds the lock, as far as the server can tell (`another session` when it cannot). */
  private async holder(session: AdvisoryLockSession, ns: number, key: number): Promise<string> {
    try {
      const rows = await session.query(
        `select l.pid, a.application_name, host(a.client_addr) as addr, a.state, extract(epoch from now() - a.backend_start)::int as age
           from pg_locks l left join pg_stat_activity a on a.pid = l.pid
          where l.locktype = 'advisory' and l.granted and l.classid = $1::bigint::oid and l.objid = $2::bigint::oid and l.objsubid = 2
            and l.database = (select oid from pg_database where datname = current_database())`,
        [ns, key],
      );
      if (rows.length) {
        return rows
          .map(
            (r) =>
              `backend pid ${r.pid}${r.application_name ? ` "${r.application_name}"` : ''}${r.addr ? ` from ${r.addr}` : ''}, connected ${r.age} s, ${r.state ?? 'unknown state'}`,
          )
          .join('; ');
      }
    } catch {
      // The message stays useful without the holder.
    }
    return 'another session';
  }

  private where(): string {
    return this.options.target ? ` on ${this.options.target}` : '';
  }
}
