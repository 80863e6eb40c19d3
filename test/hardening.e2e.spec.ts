import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
// An internal of the built library (not in its public entry): how the sweep tells a live owner from a reused pid.
import { processStartTicks } from '../libs/nest-preload/dist/temp/owner-marker';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle } from './support/bundles';
import { alive, DemoCluster, eventually, freePort } from './support/demo-cluster';
import { sqlite } from './support/sqlite';
import { createDatabase, hasPostgres, isRoot, servicesRequired } from './support/services';

const redisServerAvailable = spawnSync('redis-server', ['--version']).status === 0;
if (!redisServerAvailable && servicesRequired)
  throw new Error('redis-server is not installed: the Redis fault tests need it to start a private instance');
// A private Redis on its own port, so that stopping it disturbs nothing else; skipped (with this
// reason) where the redis-server binary is missing, and a failure in CI (see above).
const describeWithRedisServer = redisServerAvailable ? describe : describe.skip;

/** Whether this process may mount a small tmpfs (root), for the full-disk test. */
const canMountTmpfs = (() => {
  const probe = mkdtempSync(join(tmpdir(), 'np-mount-probe-'));
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
  if (ok) spawnSync('umount', [probe]);
  return ok;
})();
if (!canMountTmpfs && servicesRequired) throw new Error('cannot mount a tmpfs (root needed): the full-disk test needs one');
if (!canMountTmpfs) console.warn('\n[e2e] cannot mount a tmpfs here (not root?): the full-disk test is SKIPPED.\n');
// Skipped (with the warning above) where a tmpfs cannot be mounted; a failure in CI instead.
const itWithTmpfs = canMountTmpfs ? it : it.skip;

function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  return new Promise((ok) => setTimeout(() => ok(child), 300));
}

describe('faults and exposure (real processes)', () => {
  let cluster: DemoCluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  describeWithRedisServer('Redis', () => {
    it('down when the cluster starts, then up, then restarted: start-up completes, /health says what is down, the workers reconnect', async () => {
      const port = await freePort();
      cluster = await DemoCluster.start({ workers: 2, preload: true, env: { PRELOADER: 'exits', REDIS_URL: `redis://127.0.0.1:${port}` } });
      const started = Date.now();
      expect((await cluster.waitReady(30_000))[3]).toBe('preloaded');
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(cluster.output()).toMatch(/Redis is unreachable .*: the cache is skipped until it is back/);
      // No reconnect loop survives the preloader.
      expect(cluster.output()).toMatch(/\[Preloader\] no handles left open/);
      const down = await cluster.get('/health');
      expect(down.status).toBe(503);
      expect(down.json().error).toEqual({ redis: { status: 'down' } });
      let redis = await startRedis(port);
      try {
        await eventually(async () => (await (cluster as DemoCluster).get('/health')).status === 200, 20_000, '/health is 200 again');
        await eventually(
          () => ((cluster as DemoCluster).output().match(/the cache is back/g) ?? []).length >= 1,
          10_000,
          'a worker says the cache is back',
        );
        // Restarted while the cluster runs: down, then back, with no restart of the app.
        const pids = cluster.childPids();
        redis.kill('SIGKILL');
        await eventually(async () => (await (cluster as DemoCluster).get('/health')).status === 503, 20_000, '/health says redis is down');
        redis = await startRedis(port);
        await eventually(
          async () => (await (cluster as DemoCluster).get('/health')).status === 200,
          20_000,
          '/health is 200 after the restart',
        );
        expect(cluster.childPids().sort()).toEqual(pids.sort());
      } finally {
        redis.kill('SIGKILL');
      }
    });
  });

  describe('secrets and modes', () => {
    const PASSWORD = 'op-S3cret-pass-9f2e';
    const environ = (pid: number) =>
      new Map(
        readFileSync(`/proc/${pid}/environ`, 'utf8')
          .split('\0')
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
    const clusterDir = (c: DemoCluster) =>
      join(c.dir, 'tmp', readdirSync(join(c.dir, 'tmp')).find((e) => e.startsWith(`nest-preload-${c.pid}-`)) as string);

    it('the hand-over carries no secret: a worker gets only NEST_PRELOAD_* variables more than its primary, and no result file holds the password', async () => {
      cluster = await DemoCluster.start({
        workers: 2,
        preload: true,
        env: { AUTO_LOGIN: 'false', SUPERUSER: 'admin', SUPERUSER_PASSWORD: PASSWORD },
      });
      await cluster.waitReady();
      const primary = environ(cluster.pid);
      for (const pid of cluster.childPids()) {
        const added = [...environ(pid)].filter(([k, v]) => primary.get(k) !== v);
        // Ours, and Node's own for a forked child (IPC channel, cluster worker id); nothing else.
        expect(added.map(([k]) => k).filter((k) => !/^(NEST_PRELOAD_|NODE_CHANNEL_|NODE_UNIQUE_ID$|NODE_COMPILE_CACHE$)/.test(k))).toEqual(
          [],
        );
        expect(added.map(([k]) => k)).toEqual(expect.arrayContaining(['NEST_PRELOAD_ROLE', 'NEST_PRELOAD_WORKER_INDEX']));
        expect(added.some(([, v]) => v.includes(PASSWORD))).toBe(false);
      }
      const run = join(clusterDir(cluster), 'gen-1', 'run');
      for (const file of readdirSync(run)) expect(readFileSync(join(run, file)).includes(PASSWORD)).toBe(false);
      expect(cluster.output()).not.toContain(PASSWORD);
    });

    it('a password an operator changed survives restarts and preload re-runs', async () => {
      cluster = await DemoCluster.start({
        workers: 1,
        preload: true,
        env: { AUTO_LOGIN: 'false', SUPERUSER: 'admin', SUPERUSER_PASSWORD: PASSWORD },
      });
      await cluster.waitReady();
      const dir = cluster.dir;
      await cluster.stop();
      // The operator sets another password (here: straight in the database).
      const Database = require('better-sqlite3') as typeof import('better-sqlite3');
      const db = new Database(join(dir, 'data', 'demo.sqlite'));
      db.prepare("update users set password_hash = 'scrypt$operator$changed' where username = 'admin'").run();
      db.close();
      for (let i = 0; i < 2; i++) {
        cluster = await DemoCluster.start({
          workers: 1,
          preload: true,
          dir,
          env: { AUTO_LOGIN: 'false', SUPERUSER: 'admin', SUPERUSER_PASSWORD: PASSWORD },
        });
        await cluster.waitReady();
        await cluster.stop();
      }
      expect(sqlite(dir, (d) => d.prepare("select password_hash from users where username = 'admin'").get())).toEqual({
        password_hash: 'scrypt$operator$changed',
      });
    });

    it('on a running cluster: every private dir is 0700 and every hand-over file 0600', async () => {
      cluster = await DemoCluster.start({ workers: 1, preload: true, env: { BUNDLE_URLS: await makeBundle(5) } });
      await cluster.waitReady();
      const root = clusterDir(cluster);
      const gen = join(root, 'gen-1');
      const bundleDir = join(gen, 'tmp', readdirSync(join(gen, 'tmp'))[0]);
      for (const d of [root, gen, join(gen, 'run'), join(gen, 'tmp'), bundleDir])
        expect([d, (statSync(d).mode & 0o777).toString(8)]).toEqual([d, '700']);
      const files = readdirSync(join(gen, 'run')).map((f) => join(gen, 'run', f));
      expect(files.some((f) => f.endsWith('manifest.json'))).toBe(true);
      for (const f of files) expect([f, (statSync(f).mode & 0o777).toString(8)]).toEqual([f, '600']);
    });
  });

  it('after kill -9 of the primary, the next start sweeps the dirs its processes left, and only those', async () => {
    const BUNDLE_URLS = await makeBundle(5);
    // Preload off: the workers unpack bundles into temp dirs of their own in TMPDIR.
    cluster = await DemoCluster.start({ workers: 2, preload: false, env: { BUNDLE_URLS } });
    await cluster.waitReady();
    const dir = cluster.dir;
    const tmp = join(dir, 'tmp');
    // A dir another live cluster owns must survive the sweep.
    const foreign = join(tmp, 'nest-preload-live-other');
    mkdirSync(foreign);
    writeFileSync(join(foreign, '.owner'), JSON.stringify({ pid: process.pid, startTicks: processStartTicks(process.pid) }));
    const pids = cluster.childPids();
    process.kill(cluster.pid, 'SIGKILL');
    await cluster.waitExit();
    await eventually(() => pids.every((pid) => !alive(pid)), 5_000, 'the workers are gone');
    const left = readdirSync(tmp).filter((e) => e.startsWith('nest-preload-') && e !== 'nest-preload-live-other');
    expect(left.length).toBeGreaterThanOrEqual(3); // the cluster dir and each worker's bundle dir
    cluster = await DemoCluster.start({ workers: 2, preload: false, dir, env: { BUNDLE_URLS } });
    await cluster.waitReady();
    expect(cluster.output()).toMatch(new RegExp(`swept ${left.length} dir\\(s\\) left by processes that are gone`));
    const now = readdirSync(tmp);
    for (const entry of left) expect(now).not.toContain(entry);
    expect(now).toContain('nest-preload-live-other');
  });

  it('a worker sending garbage or a 100 MB message over IPC neither crashes nor stalls the primary', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true, env: { DEMO_TEST_HOOKS: 'true' } });
    await cluster.waitReady();
    expect((await cluster.get('/__test/ipc?kind=garbage')).json()).toEqual({ sent: 'garbage' });
    await cluster.waitFor(/sent a malformed nest-preload:heartbeat message: ignored/, 5_000);
    expect((await cluster.get('/__test/ipc?kind=huge&mb=100')).json()).toEqual({ sent: 'huge' });
    // The primary received the 100 MB message, checked it and ignored it...
    await eventually(
      () => ((cluster as DemoCluster).output().match(/sent a malformed nest-preload:heartbeat message: ignored/g) ?? []).length === 2,
      20_000,
      'the huge message was received and ignored',
    );
    // ...and still answers its control socket promptly, and the cluster still serves.
    const asked = Date.now();
    const status = spawnSync(process.execPath, [join(__dirname, '../libs/nest-preload/dist/cli.js'), 'status', '--json'], {
      cwd: cluster.dir,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(status.status).toBe(0);
    expect(Date.now() - asked).toBeLessThan(5_000);
    expect(JSON.parse(status.stdout).workers.filter((w: { state: string }) => w.state === 'ready')).toHaveLength(2);
    for (let i = 0; i < 6; i++) expect((await cluster.get('/api/v1/all')).status).toBe(200);
    expect(alive(cluster.pid)).toBe(true);
  });

  itWithTmpfs('a full disk while the preloader writes: nothing half-written is read, the workers rebuild and serve', async () => {
    const runRoot = mkdtempSync(join(tmpdir(), 'np-full-'));
    // A run root that holds the unpacked bundle but not every result file.
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1400k', 'tmpfs', runRoot]).status).toBe(0);
    try {
      cluster = await DemoCluster.start({ workers: 2, preload: true, env: { RUN_ROOT: runRoot, BUNDLE_URLS: await makeBundle(300) } });
      await cluster.waitReady();
      expect(cluster.output()).toContain('ENOSPC: no space left on device');
      const workers = [...(await cluster.healthOfEveryWorker(2)).values()].map((w) => w.body.details.preload);
      // Either the preload was abandoned (full start-up) or the steps it could not hand over were redone.
      for (const w of workers) expect(w.steps.every((s: { status: string }) => s.status === 'complete')).toBe(true);
      const all = (await cluster.get('/api/v1/all')).json();
      expect(Object.values(all).reduce((n: number, c) => n + Object.keys(c as object).length, 0)).toBe(324);
      // No partial file anywhere under the run root (atomic writes: a temp file, then a rename).
      const files = readdirSync(runRoot, { recursive: true }).map(String);
      expect(files.filter((f) => /\.\d+$|tmp-|~$/.test(f.split('/').pop() as string) && !f.includes('content'))).toEqual([]);
      expect((await cluster.stop()).code).toBe(0);
    } finally {
      spawnSync('umount', ['-l', runRoot]);
    }
  });

  const describePg = hasPostgres() ? describe : describe.skip; // a missing PostgreSQL is reported (or fails CI) in the global setup
  // Stopping the server needs root (pg_ctlcluster); elsewhere a declared skip (see services.ts).
  (hasPostgres() && isRoot ? describe : describe.skip)('PostgreSQL restarted while the cluster runs', () => {
    const version = () => readdirSync('/etc/postgresql').sort().pop() as string;
    const pgctl = (action: 'stop' | 'start') =>
      spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', ...(action === 'stop' ? ['-m', 'fast'] : []), version(), 'main', action], {
        encoding: 'utf8',
      });

    it('requests fail while it is down, then recover without restarting the app', async () => {
      const db = await createDatabase();
      try {
        cluster = await DemoCluster.start({ workers: 2, preload: true, env: { DATABASE_URL: db.url } });
        await cluster.waitReady();
        const pids = cluster.childPids();
        expect((await cluster.get('/api/v1/flows')).status).toBe(200);
        expect(pgctl('stop').status).toBe(0);
        try {
          expect((await cluster.get('/api/v1/flows')).status).toBe(500);
          expect((await cluster.get('/health')).json().error).toEqual({ database: { status: 'down' } });
        } finally {
          expect(pgctl('start').status).toBe(0);
        }
        await eventually(
          async () => {
            for (let i = 0; i < 6; i++) if ((await (cluster as DemoCluster).get('/api/v1/flows')).status !== 200) return false;
            return true;
          },
          30_000,
          'every worker answers from the database again',
        );
        expect((await cluster.get('/health')).status).toBe(200);
        // The same processes: recovered, not restarted.
        expect(cluster.childPids().sort()).toEqual(pids.sort());
      } finally {
        await db.drop().catch(() => undefined);
      }
    });
  });

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
        expect(health.json()).toEqual({
          status: 'error',
          info: { preload: { status: 'up' } },
          error: { database: { status: 'down' } },
          details: { database: { status: 'down' }, preload: { status: 'up' } },
        });
        const preload = await cluster.get('/health/preload');
        expect(preload.json()).toEqual({
          status: 'ok',
          info: { preload: { status: 'up' }, bundles: { status: 'up' } },
          error: {},
          details: { preload: { status: 'up' }, bundles: { status: 'up' } },
        });
        for (const body of [health.body, preload.body]) {
          expect(body).not.toMatch(
            new RegExp(`${dbName}|does not exist|postgres|127\\.0\\.0\\.1|/tmp/|${cluster.childPids()[0]}|version`, 'i'),
          );
        }
      } finally {
        await db.drop().catch(() => undefined);
      }
    });
  });
});
