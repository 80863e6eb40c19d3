import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { Init1700000000000 } from './1700000000000-init.migration';
import { Flows1700000000001 } from './1700000000001-flows.migration';
import { Lifecycle1700000000002 } from './1700000000002-lifecycle.migration';

/** A SQLite file migrated with `migrations`, as a database of an earlier version would be. */
async function database(file: string, migrations: Array<new () => unknown>) {
  const ds = new DataSource({
    type: 'better-sqlite3',
    database: file,
    migrations: migrations as never,
    migrationsRun: false,
    synchronize: false,
  });
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  return ds;
}

describe('the lifecycle migration on a database of the previous version (SQLite)', () => {
  it("keeps every row (the users table is rebuilt, the flows that point at it with ON DELETE CASCADE survive) and marks seeded starter projects as the seeder's", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'np-migrate-')), 'demo.sqlite');
    const old = await database(file, [Init1700000000000, Flows1700000000001]);
    await old.query(`INSERT INTO users (id, username, password_hash, is_superuser) VALUES ('u1', 'langflow', 'scrypt$aa$bb', 1)`);
    await old.query(
      `INSERT INTO flows (id, user_id, name, data, is_starter) VALUES ('s1', 'u1', 'Starter', '{}', 1), ('f1', 'u1', 'Mine', '{}', 0)`,
    );
    await old.destroy();

    const upgraded = await database(file, [Init1700000000000, Flows1700000000001, Lifecycle1700000000002]);
    expect(await upgraded.query('SELECT username, origin, last_login_at FROM users')).toEqual([
      { username: 'langflow', origin: null, last_login_at: null },
    ]);
    expect(await upgraded.query('SELECT id, seed_hash FROM flows ORDER BY id')).toEqual([
      { id: 'f1', seed_hash: null },
      { id: 's1', seed_hash: 'pre-upsert' },
    ]);
    expect(await upgraded.query('PRAGMA foreign_key_check')).toEqual([]);
    await upgraded.query(`INSERT INTO variables (id, user_id, name, value, type) VALUES ('v1', 'u1', 'FLOW_ID', '', 'generic')`);
    await expect(
      upgraded.query(`INSERT INTO variables (id, user_id, name, value, type) VALUES ('v2', 'u1', 'FLOW_ID', '', 'generic')`),
    ).rejects.toThrow(/UNIQUE/);
    await upgraded.destroy();
  });
});
