import { DemoCluster } from './support/demo-cluster';
import { createDatabase, hasPostgres, hasRedis, pgConnectionsNamed, REDIS_URL, redisClientsNamed } from './support/services';

// Needs a real PostgreSQL and Redis; the global setup says plainly when they are missing, and in
// CI (NEST_PRELOAD_REQUIRE_SERVICES=true) fails the run instead of getting here.
const describeWithServices = hasPostgres() && hasRedis() ? describe : describe.skip;

describeWithServices('the demo cluster on PostgreSQL and Redis (real services)', () => {
  let cluster: DemoCluster | undefined;
  let db: Awaited<ReturnType<typeof createDatabase>>;
  beforeEach(async () => (db = await createDatabase()));
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
    await db.drop();
  });

  const stepRuns = async () => {
    const rows = await db.query<{ step: string; role: string; n: string }>(
      'select step, role, count(*) as n from step_runs group by step, role',
    );
    const out: Record<string, Record<string, number>> = {};
    for (const r of rows) (out[r.step] ??= {})[r.role] = Number(r.n);
    return out;
  };

  it('preload on, 4 workers: steps run once; the preloader leaves no DB or Redis connection open, the workers have their own', async () => {
    // PRELOADER=exits: what is checked here is the short-lived preloader's hygiene (the serving one keeps its pool).
    cluster = await DemoCluster.start({ workers: 4, preload: true, env: { PRELOADER: 'exits', DATABASE_URL: db.url, REDIS_URL } });
    const [, preloaderPid] = await cluster.waitFor(/preloader started \(pid (\d+)/);
    expect((await cluster.waitReady())[3]).toBe('preloaded');
    expect(await stepRuns()).toEqual(
      Object.fromEntries(
        [
          'migrations',
          'superuser',
          'profile_pictures',
          'bundles',
          'types_cached',
          'starter_projects',
          'agentic_globals',
          'agentic_mcp',
          'flows',
        ].map((s) => [s, { preloader: 1 }]),
      ),
    );
    expect(await db.query('select username, is_superuser from users')).toEqual([{ username: 'langflow', is_superuser: true }]);

    // Server side: nothing of the preloader's pool or client survives it...
    expect(await pgConnectionsNamed(`demo:preloader:${preloaderPid}`)).toEqual([]);
    expect(await redisClientsNamed(`demo:preloader:${preloaderPid}`)).toEqual([]);
    // ...and the query does find live connections: each worker has its own pool and client.
    const workerPids = cluster.childPids();
    expect(workerPids).toHaveLength(4);
    const pg = new Set((await pgConnectionsNamed('demo:worker:')).map((n) => Number(n.split(':')[2])));
    expect([...pg].filter((pid) => workerPids.includes(pid)).sort()).toEqual([...workerPids].sort());
    expect(await redisClientsNamed('demo:worker:')).toHaveLength(4);
    expect(cluster.output()).toMatch(/\[Preloader\] no handles left open/);

    for (const { status } of (await cluster.healthOfEveryWorker(4)).values()) expect(status).toBe(200);
    expect((await cluster.stop()).code).toBe(0);
    expect(await redisClientsNamed('demo:worker:')).toEqual([]);
  });

  it('a preload abandoned on a critical step still closes its DB pool and Redis client; the workers start in full', async () => {
    cluster = await DemoCluster.start({
      workers: 2,
      preload: true,
      env: { PRELOADER: 'exits', DATABASE_URL: db.url, REDIS_URL, DEMO_FAIL_STEPS: 'types_cached@preloader' },
    });
    const [, preloaderPid] = await cluster.waitFor(/preloader started \(pid (\d+)/);
    expect((await cluster.waitReady())[3]).toBe('not preloaded');
    expect(cluster.output()).toMatch(/\[Preloader\] no handles left open/);
    expect(await pgConnectionsNamed(`demo:preloader:${preloaderPid}`)).toEqual([]);
    expect(await redisClientsNamed(`demo:preloader:${preloaderPid}`)).toEqual([]);
    expect((await stepRuns()).types_cached).toEqual({ worker: 2 });
    expect(await db.query('select count(*)::int as n from users')).toEqual([{ n: 1 }]);
    expect((await cluster.stop()).code).toBe(0);
  });

  it('preload off, 4 workers racing: exactly one superuser, migrations applied once, no error, every worker healthy', async () => {
    cluster = await DemoCluster.start({ workers: 4, preload: false, env: { DATABASE_URL: db.url } });
    expect((await cluster.waitReady())[3]).toBe('not preloaded');
    expect(await db.query('select count(*)::int as n from users where is_superuser')).toEqual([{ n: 1 }]);
    // Exactly one process created it, and no other reached the insert: the lock excluded them, not the unique index.
    expect(cluster.output().match(/created the auto-login superuser/g)).toHaveLength(1);
    expect(cluster.output()).not.toContain('at the same time (the unique index kept one)');
    expect(await db.query('select name from migrations order by id')).toEqual([
      { name: 'Init1700000000000' },
      { name: 'Flows1700000000001' },
      { name: 'Lifecycle1700000000002' },
    ]);
    expect((await stepRuns()).superuser).toEqual({ worker: 4 });
    expect(cluster.output()).not.toMatch(/ERROR|Error:/);
    for (const { status, body } of (await cluster.healthOfEveryWorker(4)).values()) {
      expect(status).toBe(200);
      expect(body.details.preload.preloaded).toBe(false);
    }
    expect((await cluster.stop()).code).toBe(0);
  });
});
