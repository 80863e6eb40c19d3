import { Client } from 'pg';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';

/** Admin URL of the PostgreSQL server the tests create their databases on. */
export const PG_ADMIN_URL = process.env.E2E_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.E2E_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** In CI (`NEST_PRELOAD_REQUIRE_SERVICES=true`) a missing service fails the run instead of skipping. */
export const servicesRequired = ['1', 'true', 'yes'].includes((process.env.NEST_PRELOAD_REQUIRE_SERVICES ?? '').toLowerCase());

export async function probePostgres(): Promise<string | null> {
  const client = new Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (error) {
    return `PostgreSQL at ${PG_ADMIN_URL} is not reachable (${(error as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function probeRedis(): Promise<string | null> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await client.connect();
    await client.ping();
    return null;
  } catch (error) {
    return `Redis at ${REDIS_URL} is not reachable (${(error as Error).message})`;
  } finally {
    client.disconnect();
  }
}

/** Set by the global setup: whether each service answered. */
export const hasPostgres = () => process.env.E2E_HAS_POSTGRES === '1';
export const hasRedis = () => process.env.E2E_HAS_REDIS === '1';

/** A fresh database for one test, dropped afterwards. */
export async function createDatabase(): Promise<{
  url: string;
  drop: () => Promise<void>;
  query: <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;
}> {
  const name = `np_e2e_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const client = new Client({ connectionString: url.toString() });
  // A test may stop the server under it: a lost connection is then expected, not a crash of the run.
  client.on('error', () => undefined);
  await client.connect();
  return {
    url: url.toString(),
    query: async (sql, params) => (await client.query(sql, params)).rows,
    drop: async () => {
      await client.end().catch(() => undefined);
      const a = new Client({ connectionString: PG_ADMIN_URL });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

/** All rows of `pg_stat_activity` whose application_name starts with `prefix`, on any database. */
export async function pgConnectionsNamed(prefix: string): Promise<string[]> {
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    const rows = (await admin.query(`select application_name from pg_stat_activity where application_name like $1`, [`${prefix}%`]))
      .rows as Array<{ application_name: string }>;
    return rows.map((r) => r.application_name);
  } finally {
    await admin.end();
  }
}

/** Names of the Redis connections whose name starts with `prefix` (server side, CLIENT LIST). */
export async function redisClientsNamed(prefix: string): Promise<string[]> {
  const client = new Redis(REDIS_URL);
  try {
    const list = (await client.client('LIST')) as string;
    return list
      .split('\n')
      .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '')
      .filter((n) => n.startsWith(prefix));
  } finally {
    client.disconnect();
  }
}

/** Root is needed by a few fault tests (act as another user, stop PostgreSQL, mount a tmpfs). */
export const isRoot = process.getuid?.() === 0;
if (!isRoot && servicesRequired)
  throw new Error('NEST_PRELOAD_REQUIRE_SERVICES is set but the tests do not run as root: the fault tests that need root would be skipped');
if (!isRoot)
  console.warn('\n[e2e] not running as root: the tests that act as another user, stop PostgreSQL or mount a tmpfs are SKIPPED.\n');
