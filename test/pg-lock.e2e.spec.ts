import type { Client } from 'pg';
import { LockTimeoutError } from '../libs/nest-preload/src/errors/preload.error';
import { advisoryKeys, pgAdvisoryLock } from '../libs/nest-preload/src/pg';
import { eventually } from './support/demo-cluster';
import { createDatabase, hasPostgres, pgConnectionsNamed } from './support/services';

// @lf/nest-preload/pg against a real PostgreSQL: the lock lives on a connection of its own, named
// as asked, and `held.session` is that connection — what apps/drizzle-api's migrator runs on.

const describeWithPostgres = hasPostgres() ? describe : describe.skip;

describeWithPostgres('pgAdvisoryLock on a real PostgreSQL', () => {
  it('holds the lock on its own named connection, which held.session is; a second holder times out naming it; nothing is left after release', async () => {
    const db = await createDatabase();
    try {
      const name = `np-e2e-pglock-${process.pid}`;
      const lock = pgAdvisoryLock({ connection: db.url, applicationName: name, namespace: 'e2e' });
      const [classid, objid] = advisoryKeys('e2e', 'migrations');
      const seen = await lock.withLock('migrations', async (held) => {
        const session = held.session as Client;
        const [{ pid }] = (await session.query<{ pid: number }>('select pg_backend_pid() as pid')).rows;
        const activity = await db.query('select pid, application_name from pg_stat_activity where application_name = $1', [name]);
        const holders = await db.query(
          "select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 2 and classid::bigint = $1 and objid::bigint = $2",
          [classid, objid],
        );
        const other = pgAdvisoryLock({ connection: db.url, applicationName: `${name}-2`, namespace: 'e2e' });
        const waited = await other.withLock('migrations', async () => 'ran', { timeoutMs: 800 }).catch((error: unknown) => error);
        return { pid, activity, holders, waited };
      });
      expect(seen.activity).toEqual([{ pid: seen.pid, application_name: name }]);
      expect(seen.holders).toEqual([{ pid: seen.pid }]);
      expect(seen.waited).toBeInstanceOf(LockTimeoutError);
      expect(String((seen.waited as Error).message)).toContain(name);
      await eventually(async () => (await pgConnectionsNamed(name)).length === 0, 5_000, 'the lock connections to close');
      expect(await db.query("select pid from pg_locks where locktype = 'advisory'")).toEqual([]);
    } finally {
      await db.drop();
    }
  });

  it('a step that throws under the lock: the error reaches the caller, no advisory lock or lock connection is left, the next holder gets it at once', async () => {
    const db = await createDatabase();
    try {
      const name = `np-e2e-pgthrow-${process.pid}`;
      const lock = pgAdvisoryLock({ connection: db.url, applicationName: name, namespace: 'e2e' });
      await expect(
        lock.withLock('seed', async () => {
          throw new Error('the seed failed');
        }),
      ).rejects.toThrow('the seed failed');
      await eventually(async () => (await pgConnectionsNamed(name)).length === 0, 5_000, 'the lock connection to close');
      expect(await db.query("select pid from pg_locks where locktype = 'advisory'")).toEqual([]);
      const next = pgAdvisoryLock({ connection: db.url, applicationName: `${name}-next`, namespace: 'e2e' });
      await expect(next.withLock('seed', async () => 'ran', { timeoutMs: 1_000 })).resolves.toBe('ran');
    } finally {
      await db.drop();
    }
  });

  it('advisory lock: the waiter names the holding backend and its application, then the time it waited', async () => {
    const db = await createDatabase();
    try {
      const name = `np-e2e-lockwait-${process.pid}`;
      const lines: string[] = [];
      const holder = pgAdvisoryLock({ connection: db.url, applicationName: name, namespace: 'e2e' });
      const waiter = pgAdvisoryLock({
        connection: db.url,
        applicationName: `${name}-waiter`,
        namespace: 'e2e',
        log: (line) => lines.push(line),
      });
      let release!: () => void;
      let holderPid = 0;
      const held = holder.withLock('migrations', async (h) => {
        holderPid = (await (h.session as Client).query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
        await new Promise<void>((r) => (release = r));
      });
      await eventually(async () => holderPid > 0, 5_000, 'the holder to take the lock');
      const waiting = waiter.withLock('migrations', async () => 'ran', { timeoutMs: 20_000 });
      await eventually(async () => lines.length > 0, 5_000, 'the first wait line');
      expect(lines[0]).toMatch(
        new RegExp(
          `^The database lock "migrations" on 127\\.0\\.0\\.1:5432/\\S+ is held by backend pid ${holderPid} "${name}" from 127\\.0\\.0\\.1, connected \\d+ s, \\w+; waiting up to 20\\.0 s\\.$`,
        ),
      );
      await new Promise((r) => setTimeout(r, 400));
      release();
      await held;
      await expect(waiting).resolves.toBe('ran');
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatch(/^Acquired the database lock "migrations" on 127\.0\.0\.1:5432\/\S+ after waiting 0\.\d s\.$/);
    } finally {
      await db.drop();
    }
  });
});
