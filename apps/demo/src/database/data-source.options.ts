import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DemoConfig } from '../config';
import { Init1700000000000 } from './1700000000000-init.migration';
import { Flows1700000000001 } from './1700000000001-flows.migration';
import { Lifecycle1700000000002 } from './1700000000002-lifecycle.migration';
import { Flow } from './flow.entity';
import { StepRun } from './step-run.entity';
import { User } from './user.entity';
import { Variable } from './variable.entity';

/** TypeORM options: PostgreSQL when DATABASE_URL is set, else a SQLite file in DATA_DIR. */
export function dataSourceOptions(config: DemoConfig, role: string): DataSourceOptions {
  const common = {
    entities: [User, StepRun, Flow, Variable],
    migrations: [Init1700000000000, Flows1700000000001, Lifecycle1700000000002],
    migrationsRun: false,
    synchronize: false,
  };
  if (config.databaseUrl) {
    // The name lets operators (and tests) find this process's connections in pg_stat_activity.
    return { ...common, type: 'postgres', url: config.databaseUrl, applicationName: `demo:${role}:${process.pid}`, extra: { max: 5 } };
  }
  mkdirSync(config.dataDir, { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: join(config.dataDir, 'demo.sqlite'),
    // Several processes share the file: WAL lets readers run beside the writer, and writers wait
    // for each other instead of failing with SQLITE_BUSY.
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 15000');
    },
  };
}

/** True when the error is a unique-constraint violation, on either database. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  const code = e?.driverError?.code ?? e?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
