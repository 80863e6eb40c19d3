import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { DemoCluster, eventually, freePort } from './support/demo-cluster';
import { createDatabase, hasPostgres, servicesRequired } from './support/services';

const redisServerAvailable = spawnSync('redis-server', ['--version']).status === 0;
if (!redisServerAvailable && servicesRequired) throw new Error('redis-server is not installed: the Redis fault tests need it to start a private instance');
// A private Redis on its own port, so that stopping it disturbs nothing else; skipped (with this
// reason) where the redis-server binary is missing, and a failure in CI (see above).
const describeWithRedisServer = redisServerAvailable ? describe : describe.skip;

function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  return new Promise((ok) => setTimeout(() => ok(child), 300));
}

describe('faults and exposure (real processes)', () => {
  let cluster: DemoCluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  describeWithRedisServer('Redis', () => {
    it('down when the cluster starts: start-up completes, /health says redis is down; once it is up the workers reconnect', async () => {
      const port = await freePort();
      cluster = await DemoCluster.start({ workers: 2, preload: true, env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
      const started = Date.now();
      expect((await cluster.waitReady(30_000))[3]).toBe('preloaded');
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(cluster.output()).toMatch(/Redis is unreachable .*: the cache is skipped until it is back/);
      // No reconnect loop survives the preloader.
      expect(cluster.output()).toMatch(/\[Preloader\] no handles left open/);
      const down = await cluster.get('/health');
      expect(down.status).toBe(503);
      expect(down.json().error).toEqual({ redis: { status: 'down' } });
      const redis = await startRedis(port);
      try {
        await eventually(async () => (await (cluster as DemoCluster).get('/health')).status === 200, 20_000, '/health is 200 again');
        await eventually(() => ((cluster as DemoCluster).output().match(/the cache is back/g) ?? []).length >= 1, 10_000, 'a worker says the cache is back');
      } finally {
        redis.kill('SIGKILL');
      }
    });
  });

  const describePg = hasPostgres() ? describe : describe.skip; // a missing PostgreSQL is reported (or fails CI) in the global setup
  describePg('health bodies', () => {
    it('with a forced database error, unauthenticated /health and /health/preload show statuses only', async () => {
      const db = await createDatabase();
      const dbName = new URL(db.url).pathname.slice(1);
      try {
        cluster = await DemoCluster.start({ workers: 1, preload: true, env: { DATABASE_URL: db.url, HEALTH_DETAILS: 'false' } });
        await cluster.waitReady();
        await db.drop();
        const health = await cluster.get('/health');
        expect(health.status).toBe(503);
        expect(health.json()).toEqual({ status: 'error', info: { preload: { status: 'up' } }, error: { database: { status: 'down' } }, details: { database: { status: 'down' }, preload: { status: 'up' } } });
        const preload = await cluster.get('/health/preload');
        expect(preload.json()).toEqual({ status: 'ok', info: { preload: { status: 'up' } }, error: {}, details: { preload: { status: 'up' } } });
        for (const body of [health.body, preload.body]) {
          expect(body).not.toMatch(new RegExp(`${dbName}|does not exist|postgres|127\\.0\\.0\\.1|/tmp/|${cluster.childPids()[0]}|version`, 'i'));
        }
      } finally {
        await db.drop().catch(() => undefined);
      }
    });
  });
});
