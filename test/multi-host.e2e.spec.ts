import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { advisoryKeys } from '@lf/nest-preload';
import { DEMO_MAIN, DemoCluster } from './support/demo-cluster';
import { createDatabase, hasPostgres } from './support/services';

// Several "hosts" — clusters with their own run dirs, temp dirs, data dirs and ports, started at the
// same instant — against one PostgreSQL database. Needs a real PostgreSQL (skipped, saying so, without
// one; a failure in CI).
const describeWithPostgres = hasPostgres() ? describe : describe.skip;

/** The demo's lock namespace (app.module.ts). */
const NAMESPACE = 'langflow-demo';
const STARTERS = 4;

type Db = Awaited<ReturnType<typeof createDatabase>>;

const host = (db: Db, env: Record<string, string> = {}, workers = 2) =>
  DemoCluster.start({ workers, preload: true, env: { DATABASE_URL: db.url, MULTI_HOST: 'true', ...env } });

/** What the database holds once start-up work ran: every count must be exactly one run's. */
async function databaseState(db: Db) {
  // One connection: one query at a time.
  const [m] = await db.query<{ n: number; names: string }>(
    "select count(*)::int as n, string_agg(name, ',' order by name) as names from migrations",
  );
  const [u] = await db.query<{ n: number }>('select count(*)::int as n from users where is_superuser');
  const [f] = await db.query<{ n: number; distinct_names: number }>(
    'select count(*)::int as n, count(distinct name)::int as distinct_names from flows where is_starter',
  );
  const runs = await db.query<{ step: string; n: number }>(
    "select step, count(*)::int as n from step_runs where step = 'migrations' group by step",
  );
  return {
    migrations: m.n,
    migrationNames: m.names,
    superusers: u.n,
    starters: f.n,
    distinctStarters: f.distinct_names,
    migrationRuns: runs[0]?.n ?? 0,
  };
}

const appliedLine = (cluster: DemoCluster) =>
  cluster.lines.filter((l) => /migrations: applied \d/.test(l)).map((l) => /applied (\d+)/.exec(l)?.[1]);

describeWithPostgres('several hosts against one PostgreSQL database (real processes)', () => {
  const clusters: DemoCluster[] = [];
  let db: Db | undefined;
  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.destroy()));
    await db?.drop();
    db = undefined;
  });

  it('two hosts started at the same instant, 20 times on a fresh database: migrations once, one superuser, starter projects once, both healthy', async () => {
    for (let round = 1; round <= 20; round++) {
      db = await createDatabase();
      const [a, b] = await Promise.all([host(db), host(db)]);
      clusters.push(a, b);
      const [readyA, readyB] = await Promise.all([a.waitReady(), b.waitReady()]);
      const context = `round ${round}:\n--- host a\n${a.output().slice(-3000)}\n--- host b\n${b.output().slice(-3000)}`;
      expect([readyA[3], readyB[3], context]).toEqual(['preloaded', 'preloaded', context]);
      // Exactly one host applied the two migrations; the other found them applied, inside the lock.
      expect([[...appliedLine(a), ...appliedLine(b)].sort(), context]).toEqual([['0', '3'], context]);
      expect(await databaseState(db)).toEqual({
        migrations: 3,
        migrationNames: 'Flows1700000000001,Init1700000000000,Lifecycle1700000000002',
        superusers: 1,
        starters: STARTERS,
        distinctStarters: STARTERS,
        migrationRuns: 2,
      });
      for (const cluster of [a, b]) {
        for (const { status } of (await cluster.healthOfEveryWorker(2)).values()) expect(status).toBe(200);
      }
      const [stopA, stopB] = await Promise.all([a.stop(), b.stop()]);
      expect([stopA.code, stopB.code]).toEqual([0, 0]);
      clusters.splice(0);
      await db.drop();
      db = undefined;
    }
  }, 600_000);

  it("the lock holder's session killed mid-migration (pg_terminate_backend): its work rolls back, the other host completes, nothing is duplicated", async () => {
    db = await createDatabase();
    const a = await host(db, { DEMO_MIGRATION_DELAY_MS: '5000' }, 1);
    clusters.push(a);
    await a.waitFor(/migration Flows1700000000001 in progress/);
    const b = await host(db, {}, 1);
    clusters.push(b);
    await b.waitFor(/step migrations started/);

    // The holder, as the server sees it: the one granted advisory lock of this database, on A's lock connection.
    const [ns, key] = advisoryKeys(NAMESPACE, 'step-migrations');
    const holders = await db.query<{ pid: number; application_name: string }>(
      `select l.pid, a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.granted and l.classid = $1::bigint::oid and l.objid = $2::bigint::oid and l.objsubid = 2`,
      [ns, key],
    );
    expect(holders).toHaveLength(1);
    expect(holders[0].application_name).toMatch(/^demo:preloader:\d+:lock$/);
    const [, , preloaderA] = holders[0].application_name.split(':');
    expect(a.output()).toContain(`preloader started (pid ${preloaderA}`);
    // A's first migration ran in the same transaction on that session: not visible to anyone yet.
    expect(await db.query("select to_regclass('public.users') as t")).toEqual([{ t: null }]);
    expect(await db.query('select pg_terminate_backend($1) as ok', [holders[0].pid])).toEqual([{ ok: true }]);

    await Promise.all([a.waitReady(), b.waitReady()]);
    // B took the lock and applied both migrations: A's Init migration was rolled back with the session.
    expect(b.output()).toMatch(/migrations: applied 3 \(Init1700000000000, Flows1700000000001, Lifecycle1700000000002\)/);
    expect(a.output()).toMatch(/The startup lock "step-migrations" was lost while its work ran \(its database session ended/);
    expect(appliedLine(a)).toEqual(['0']);
    expect(await databaseState(db)).toMatchObject({ migrations: 3, superusers: 1, starters: STARTERS, distinctStarters: STARTERS });
    for (const cluster of [a, b]) expect((await cluster.get('/health/preload')).status).toBe(200);
  });

  it('two hosts and a slow migration: the waiting host says within 5 s who holds the lock (backend pid, application, address, how long), then how long it waited; its timeline holds that wait inside its migrations step', async () => {
    db = await createDatabase();
    const a = await host(db, { DEMO_MIGRATION_DELAY_MS: '6000' }, 1);
    clusters.push(a);
    await a.waitFor(/migration Flows1700000000001 in progress/);
    const b = await host(db, {}, 1);
    clusters.push(b);
    await b.waitFor(/step migrations started/);
    // Within 5 s of reaching the lock, B names the holder as the server sees it.
    const [, holderPid] = await b.waitFor(
      /The database lock "step-migrations" on 127\.0\.0\.1:5432\/\S+ is held by backend pid (\d+) "demo:preloader:\d+:lock" from 127\.0\.0\.1, connected \d+ s, [^;]+; waiting up to [\d.]+ s\./,
      5_000,
    );
    const [ns, key] = advisoryKeys(NAMESPACE, 'step-migrations');
    const holders = await db.query<{ pid: number }>(
      "select pid from pg_locks where locktype = 'advisory' and granted and classid = $1::bigint::oid and objid = $2::bigint::oid",
      [ns, key],
    );
    expect(holders.map((h) => String(h.pid))).toEqual([holderPid]);
    await Promise.all([a.waitReady(), b.waitReady()]);
    const [, waited] = await b.waitFor(
      /Acquired the database lock "step-migrations" on 127\.0\.0\.1:5432\/\S+ after waiting (\d+\.\d) s\./,
      1_000,
    );
    expect(Number(waited)).toBeGreaterThanOrEqual(1);
    // B's start-up timeline: the same wait, inside its migrations step, in its preloader's track.
    const trace = JSON.parse(readFileSync(join(b.dir, '.nest-preload', 'timeline.json'), 'utf8')) as {
      traceEvents: Array<{ name: string; ph: string; ts: number; dur: number; pid: number }>;
    };
    const wait = trace.traceEvents.find((e) => e.ph === 'X' && e.name === 'lock wait step-migrations') as {
      ts: number;
      dur: number;
      pid: number;
    };
    const step = trace.traceEvents.find((e) => e.ph === 'X' && e.name === 'step migrations' && e.pid === wait.pid) as {
      ts: number;
      dur: number;
    };
    expect([wait.ts >= step.ts, wait.ts + wait.dur <= step.ts + step.dur + 1_000]).toEqual([true, true]);
    expect(Math.abs(wait.dur / 1e6 - Number(waited))).toBeLessThan(0.2);
  });

  it('a lock held elsewhere past the deadline: a clear error naming the holder, and no partial state', async () => {
    db = await createDatabase();
    const elsewhere = new Client({ connectionString: db.url, application_name: 'another-host-stuck' });
    await elsewhere.connect();
    try {
      const [ns, key] = advisoryKeys(NAMESPACE, 'step-migrations');
      await elsewhere.query('select pg_advisory_lock($1, $2)', [ns, key]);
      const started = Date.now();
      const a = await host(db, { LOCK_TIMEOUT_MS: '10001', MAX_RESTARTS: '0' }, 1);
      clusters.push(a);
      const exit = await a.waitExit();
      expect(exit.code).toBe(3);
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(a.output()).toMatch(
        /Timed out after 10001 ms waiting for the database lock "step-migrations" on 127\.0\.0\.1:5432\/np_e2e_\w+ \(advisory keys \d+, \d+\), held by backend pid \d+ "another-host-stuck"/,
      );
      expect(a.output()).toContain('Nothing was done under it.');
      // Nothing of the start-up work happened: no table at all.
      expect(await db.query("select count(*)::int as n from information_schema.tables where table_schema = 'public'")).toEqual([{ n: 0 }]);
    } finally {
      await elsewhere.end();
    }
  }, 120_000);

  it('one-shot: runs only the preload and exits 0; hosts started after it find the work done; failures give 6 (best-effort) and 4 (critical)', async () => {
    db = await createDatabase();
    const oneShot = (env: Record<string, string>) => {
      const dir = mkdtempSync(join(tmpdir(), 'np-oneshot-'));
      const r = spawnSync(process.execPath, [DEMO_MAIN], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: db?.url,
          MULTI_HOST: 'true',
          PRELOAD_ONLY: 'true',
          DATA_DIR: join(dir, 'data'),
          TMPDIR: dir,
          PORT: '1',
          NO_COLOR: '1',
          ...env,
        },
      });
      return { code: r.status, out: `${r.stdout}${r.stderr}` };
    };
    const failed = oneShot({ DEMO_FAIL_STEPS: 'migrations' });
    expect([failed.code, failed.out]).toEqual([4, expect.stringContaining('one-shot preload failed: CriticalStepError')]);
    const partial = oneShot({ DEMO_FAIL_STEPS: 'profile_pictures' });
    expect([partial.code, partial.out]).toEqual([6, expect.stringContaining('incomplete best-effort steps: profile_pictures')]);
    const done = oneShot({});
    expect([done.code, done.out]).toEqual([0, expect.stringContaining('one-shot preload complete: every step done')]);
    // It served nothing and forked nothing.
    expect(done.out).not.toMatch(/preloader started|cluster ready|Nest application successfully started/);

    const a = await host(db);
    clusters.push(a);
    expect((await a.waitReady())[3]).toBe('preloaded');
    expect(appliedLine(a)).toEqual(['0']);
    expect(await databaseState(db)).toMatchObject({ migrations: 3, superusers: 1, starters: STARTERS, distinctStarters: STARTERS });
  });
});
