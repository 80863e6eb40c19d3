/**
 * `@lf/nest-preload/pg`: the cross-host startup lock for any app on PostgreSQL, whatever its ORM
 * (Prisma, Drizzle, MikroORM, Knex, plain `pg`). It needs only the `pg` driver.
 */
import { Client, type ClientConfig } from 'pg';
import { PreloadConfigError } from './errors/preload.error';
import { PreloadMessages } from './errors/preload.messages';
import {
  type AdvisoryLockSession,
  PgAdvisoryLock,
  type PgAdvisoryLockOptions,
  describePgTarget,
  watchConnectionLoss,
} from './locks/pg-advisory-lock';

export { PgAdvisoryLock, advisoryKeys, type AdvisoryLockSession, type PgAdvisoryLockOptions } from './locks/pg-advisory-lock';

/** Options of {@link pgAdvisoryLock}. */
export interface PgLockOptions extends Pick<PgAdvisoryLockOptions, 'namespace' | 'retryMinMs' | 'retryMaxMs' | 'log'> {
  /**
   * Where to connect: a `postgres://` URL (the `DATABASE_URL` your ORM reads) or `pg` client
   * settings (`host`, `port`, `user`, `password`, `database`, `ssl`, …). Either way the lock opens
   * its **own** connection for each acquisition, never one of your ORM's pool.
   */
  connection: string | ClientConfig;
  /**
   * `application_name` of the lock's connection, so operators can find the holder in
   * `pg_stat_activity`.
   * @default `nest-preload:lock:<pid>`
   */
  applicationName?: string;
}

/** A URL as it may be shown: no user, no password; what cannot be parsed shows only its scheme. */
function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.host) return `${parsed.protocol}… (no host)`;
    const auth = parsed.username || parsed.password ? '***@' : '';
    return `${parsed.protocol}//${auth}${parsed.host}${parsed.pathname}`.slice(0, 120);
  } catch {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
    return scheme ? `${scheme}:… (not a URL)` : '(not a URL)';
  }
}

/**
 * A {@link PgAdvisoryLock} on its own `pg` connection: pass it as `databaseLock` with
 * `hosts: 'multiple'`. The held lock's `session` is that connected `pg.Client`, so work that must
 * roll back when the lock is lost can run on it (e.g. Drizzle's `migrate(drizzle(client), …)`),
 * inside the same session that holds the lock.
 *
 * @throws PreloadConfigError when `connection` is missing or not a PostgreSQL URL.
 */
export function pgAdvisoryLock(options: PgLockOptions): PgAdvisoryLock {
  const connection = options?.connection;
  let config: ClientConfig;
  if (typeof connection === 'string') {
    if (!/^postgres(ql)?:\/\//.test(connection)) {
      throw new PreloadConfigError(PreloadMessages.pgUrlExpected(withoutCredentials(connection)));
    }
    config = { connectionString: connection };
  } else if (connection && typeof connection === 'object') {
    config = { ...connection };
  } else {
    throw new PreloadConfigError(PreloadMessages.pgConnectionMissing());
  }
  config.application_name = options.applicationName ?? config.application_name ?? `nest-preload:lock:${process.pid}`;
  return new PgAdvisoryLock({
    namespace: options.namespace,
    retryMinMs: options.retryMinMs,
    retryMaxMs: options.retryMaxMs,
    log: options.log,
    target: describePgTarget({ ...config, connectionString: config.connectionString } as {
      connectionString?: string;
      host?: string;
      port?: number;
      database?: string;
    }),
    connect: () => openSession(config),
  });
}

async function openSession(config: ClientConfig): Promise<AdvisoryLockSession> {
  const client = new Client(config);
  const loss = watchConnectionLoss(client);
  try {
    await client.connect();
  } catch (error) {
    loss.closing();
    await client.end().catch(() => undefined);
    throw error;
  }
  return {
    handle: client,
    query: async (sql, params) => (await client.query(sql, params)).rows as Array<Record<string, unknown>>,
    onLost: loss.onLost,
    close: async () => {
      loss.closing();
      await client.end();
    },
  };
}
