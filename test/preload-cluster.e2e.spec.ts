import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DemoCluster, eventually, TRACE_MODULES } from './support/demo-cluster';
import { makeBundle } from './support/bundles';
import { appliedMigrations, stepRuns, superusers } from './support/sqlite';

const STEPS = [
  'migrations',
  'superuser',
  'profile_pictures',
  'bundles',
  'types_cached',
  'starter_projects',
  'agentic_globals',
  'agentic_mcp',
  'flows',
];
const byPreloader = Object.fromEntries(STEPS.map((s) => [s, { preloader: 1 }]));

/** The cluster's own dir in TMPDIR (nest-preload-<primary pid>-*), holding one gen-N/ (run/ and tmp/) per preload generation. */
const clusterDir = (c: DemoCluster) =>
  readdirSync(join(c.dir, 'tmp'))
    .filter((e) => e.startsWith(`nest-preload-${c.pid}-`))
    .map((e) => join(c.dir, 'tmp', e))[0];

describe('a preloaded cluster of the demo (SQLite, real processes)', () => {
  let cluster: DemoCluster;
  /** Every cluster here unpacks one small bundle, so the preload owns a temp dir. */
  let BUNDLE_URLS: string;
  beforeAll(async () => (BUNDLE_URLS = await makeBundle(20)));
  afterEach(async () => cluster?.destroy());

  it('runs each step exactly once; the preloader serves as worker 0, every other worker starts preloaded; all healthy; the primary never loads the app', async () => {
    const traceDir = mkdtempSync(join(tmpdir(), 'np-trace-'));
    cluster = await DemoCluster.start({
      workers: 4,
      preload: true,
      nodeArgs: ['--require', TRACE_MODULES],
      env: { TRACE_MODULES_DIR: traceDir, BUNDLE_URLS },
    });
    const ready = await cluster.waitReady();
    expect(ready.slice(1, 4)).toEqual(['4', '4', 'preloaded']);

    expect(stepRuns(cluster.dir)).toEqual(byPreloader);
    expect(superusers(cluster.dir)).toBe(1);

    const workers = await cluster.healthOfEveryWorker(4);
    expect(new Set(workers.keys())).toEqual(new Set(cluster.childPids()));
    const preloaderPid = Number(/preloader started \(pid (\d+)/.exec(cluster.output())?.[1]);
    for (const [pid, { status, body }] of workers) {
      expect(status).toBe(200);
      const role = pid === preloaderPid ? { role: 'preloader', workerIndex: 0, preloaded: false } : { role: 'worker', preloaded: true };
      expect(body.details.preload).toMatchObject({ status: 'up', missingCritical: [], ...role });
      expect(
        body.details.preload.steps.map((s: { name: string; ranIn: string; status: string }) => `${s.name}:${s.status}@${s.ranIn}`),
      ).toEqual(STEPS.map((s) => `${s}:complete@preloader`));
    }
    expect([...workers.values()].map((w) => w.body.details.preload.workerIndex).sort()).toEqual([0, 1, 2, 3]);
    const all = await cluster.get('/api/v1/all');
    expect(all.status).toBe(200);
    expect(Object.keys(all.json())).toEqual(
      expect.arrayContaining(['data', 'helpers', 'inputs', 'logic', 'memories', 'outputs', 'processing', 'prompts', 'tools', 'agents']),
    );

    const stop = await cluster.stop('SIGTERM');
    expect(stop.code).toBe(0);
    const [trace] = readdirSync(traceDir).filter((f) => f.startsWith('primary-'));
    const loaded: string[] = JSON.parse(readFileSync(join(traceDir, trace), 'utf8'));
    expect(loaded.some((m) => m.endsWith(join('dist', 'cluster.js')))).toBe(true);
    expect(loaded.filter((m) => /app\.module|@nestjs[/\\]core|typeorm|ioredis/.test(m))).toEqual([]);
  });

  it('SIGTERM: exits 0 within the graceful timeout and leaves no process and no temp dir behind', async () => {
    cluster = await DemoCluster.start({ workers: 4, preload: true, env: { GRACEFUL_TIMEOUT_MS: '5000', BUNDLE_URLS } });
    await cluster.waitReady();
    expect(cluster.childPids()).toHaveLength(4);
    expect(existsSync(clusterDir(cluster))).toBe(true);
    const stop = await cluster.stop('SIGTERM');
    expect(stop).toMatchObject({ code: 0, signal: null });
    expect(stop.ms).toBeLessThan(5_000);
    await eventually(() => !cluster.groupAlive(), 5_000, 'every process of the cluster exits');
    expect(readdirSync(join(cluster.dir, 'tmp'))).toEqual([]);
  });

  it('a best-effort step that fails in the preloader is redone by every other worker, and only that step; the preloader serves without it', async () => {
    cluster = await DemoCluster.start({ workers: 4, preload: true, env: { DEMO_FAIL_STEPS: 'profile_pictures@preloader', BUNDLE_URLS } });
    await cluster.waitReady();
    expect(stepRuns(cluster.dir)).toEqual({ ...byPreloader, profile_pictures: { worker: 3 } });
    for (const { status, body } of (await cluster.healthOfEveryWorker(4)).values()) {
      expect(status).toBe(200);
      const pictures = body.details.preload.steps.find((s: { name: string }) => s.name === 'profile_pictures');
      if (body.details.preload.role === 'preloader') {
        expect(pictures).toMatchObject({ status: 'failed', ranIn: 'preloader' });
        continue;
      }
      expect(pictures).toMatchObject({ status: 'complete', ranIn: 'worker' });
      expect(body.details.preload.preloaded).toBe(true);
    }
    expect(readdirSync(join(cluster.dir, 'config', 'profile_pictures', 'People'))).toEqual([
      'avatar-1.svg',
      'avatar-2.svg',
      'avatar-3.svg',
    ]);
  });

  it('a critical step that fails in the preloader: its temp dirs are removed and the workers run the full start-up', async () => {
    cluster = await DemoCluster.start({ workers: 4, preload: true, env: { DEMO_FAIL_STEPS: 'types_cached@preloader', BUNDLE_URLS } });
    const ready = await cluster.waitReady();
    expect(ready[3]).toBe('not preloaded');
    expect(cluster.output()).toMatch(
      /preload abandoned after \d+ ms \(Critical preload step "types_cached" failed: Error: injected failure/,
    );
    // The abandoned generation (its run dir and the preloader's bundle dir) is gone; each worker owns the one it made itself.
    expect(readdirSync(clusterDir(cluster)).filter((e) => e.startsWith('gen-'))).toEqual([]);
    expect(readdirSync(join(cluster.dir, 'tmp')).filter((e) => e.startsWith('nest-preload-bundle-0-'))).toHaveLength(4);
    const runs = stepRuns(cluster.dir);
    expect(runs.types_cached).toEqual({ worker: 4 });
    expect(runs.bundles).toEqual({ preloader: 1, worker: 4 });
    expect(superusers(cluster.dir)).toBe(1);
    for (const { status, body } of (await cluster.healthOfEveryWorker(4)).values()) {
      expect(status).toBe(200);
      // Workers booting beside the preloader (pipelined, bounded) learn why it was abandoned; those forked after it start without a hand-over.
      expect(body.details.preload).toMatchObject({
        preloaded: false,
        notPreloadedReason: expect.stringMatching(
          /the preload was abandoned \(Critical preload step "types_cached" failed|no preload hand-over was given/,
        ),
      });
    }
    expect((await cluster.stop()).code).toBe(0);
    expect(readdirSync(join(cluster.dir, 'tmp'))).toEqual([]);
  });

  it('a preloader killed mid-step: the workers run the full start-up and nothing of it is left in the temp dirs', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true, env: { DEMO_STEP_DELAY_MS: 'bundles@preloader:30000', BUNDLE_URLS } });
    const [, pid] = await cluster.waitFor(/preloader started \(pid (\d+)/);
    await cluster.waitFor(/step superuser complete/);
    await eventually(
      () => readdirSync(join(clusterDir(cluster), 'gen-1', 'tmp')).length === 1,
      10_000,
      'the preloader created its bundle dir',
    );
    process.kill(Number(pid), 'SIGKILL');
    const ready = await cluster.waitReady();
    expect(ready[3]).toBe('not preloaded');
    expect(cluster.output()).toContain('the preloader was killed by SIGKILL');
    expect(readdirSync(clusterDir(cluster)).filter((e) => e.startsWith('gen-'))).toEqual([]);
    expect(stepRuns(cluster.dir).types_cached).toEqual({ worker: 2 });
    expect((await cluster.stop()).code).toBe(0);
    expect(readdirSync(join(cluster.dir, 'tmp'))).toEqual([]);
  });

  it('preload off, 4 workers racing: one superuser, migrations applied once, no error, every worker healthy', async () => {
    cluster = await DemoCluster.start({ workers: 4, preload: false, env: { BUNDLE_URLS } });
    const ready = await cluster.waitReady();
    expect(ready[3]).toBe('not preloaded');
    expect(superusers(cluster.dir)).toBe(1);
    // Exactly one process created it, and no other reached the insert: the lock excluded them, not the unique index.
    expect(cluster.output().match(/created the auto-login superuser/g)).toHaveLength(1);
    expect(cluster.output()).not.toContain('at the same time (the unique index kept one)');
    const runs = stepRuns(cluster.dir);
    expect(runs.migrations).toEqual({ worker: 4 });
    expect(appliedMigrations(cluster.dir)).toEqual(['Init1700000000000', 'Flows1700000000001', 'Lifecycle1700000000002']);
    expect(runs.superuser).toEqual({ worker: 4 });
    expect(cluster.output()).not.toMatch(/ERROR|Error:/);
    for (const { status } of (await cluster.healthOfEveryWorker(4)).values()) expect(status).toBe(200);
    expect((await cluster.stop()).code).toBe(0);
  });
});
