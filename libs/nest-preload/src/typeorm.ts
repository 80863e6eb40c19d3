/**
 * `@lf/nest-preload/typeorm`: the cross-host startup lock for apps on TypeORM and PostgreSQL
 * (needs `typeorm` and `pg`, which a TypeORM PostgreSQL app has already).
 */
import { DataSource, type DataSourceOptions, type QueryRunner } from 'typeorm';
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

/** Options of {@link typeOrmAdvisoryLock}. */
export interface TypeOrmAdvisoryLockOptions extends Pick<PgAdvisoryLockOptions, 'namespace' | 'retryMinMs' | 'retryMaxMs' | 'log'> {
  /**
   * `application_name` of the lock's connection, so operators can find the holder in
   * `pg_stat_activity`.
   * @default the DataSource's `applicationName` + `:lock`, else `nest-preload:lock:<pid>`
   */
  applicationName?: string;
}

/**
 * A {@link PgAdvisoryLock} for a TypeORM PostgreSQL `DataSource`. Each acquisition opens its own
 * connection (a one-connection DataSource with the same credentials, entities and migrations),
 * never one of the request pool; the held lock's `session` is a `QueryRunner` on that connection,
 * so work run on it (e.g. `new MigrationExecutor(runner.connection, runner)`) rolls back if the
 * session is killed, exactly when the lock is released.
 *
 * @throws PreloadConfigError when the DataSource is not PostgreSQL: SQLite and the other drivers
 *   have no such lock (with one host, leave `databaseLock` unset and the file lock guards the work).
 */
export function typeOrmAdvisoryLock(dataSource: DataSource, options: TypeOrmAdvisoryLockOptions = {}): PgAdvisoryLock {
  const base = dataSource.options;
  if (base.type !== 'postgres') {
    throw new PreloadConfigError(PreloadMessages.typeOrmNotPostgres(String(base.type)));
  }
  const applicationName =
    options.applicationName ?? (base.applicationName ? `${base.applicationName}:lock` : `nest-preload:lock:${process.pid}`);
  const lockOptions: DataSourceOptions = {
    ...base,
    name: undefined,
    applicationName,
    poolSize: 1,
    extra: { ...(base.extra as object | undefined), max: 1 },
    synchronize: false,
    migrationsRun: false,
    dropSchema: false,
    logging: false,
    subscribers: [],
  } as DataSourceOptions;
  return new PgAdvisoryLock({
    namespace: options.namespace,
    retryMinMs: options.retryMinMs,
    retryMaxMs: options.retryMaxMs,
    log: options.log,
    target: describePgTarget(base as { url?: string; host?: string; port?: number; database?: string }),
    connect: () => openSession(lockOptions),
  });
}

async function openSession(options: DataSourceOptions): Promise<AdvisoryLockSession> {
  const dataSource = new DataSource(options);
  await dataSource.initialize();
  let runner: QueryRunner;
  let client: NodeJS.EventEmitter;
  try {
    runner = dataSource.createQueryRunner();
    client = (await runner.connect()) as NodeJS.EventEmitter;
  } catch (error) {
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
  const loss = watchConnectionLoss(client);
  return {
    handle: runner,
    query: (sql, params) => runner.query(sql, params),
    onLost: loss.onLost,
    close: async () => {
      loss.closing();
      await runner.release().catch(() => undefined);
      await dataSource.destroy();
    },
  };
}
