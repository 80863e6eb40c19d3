import { readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBundle } from './support/bundles';
import { DemoCluster, eventually } from './support/demo-cluster';
import { stepRuns } from './support/sqlite';

/** Index of the first output line matching `pattern` (the cluster's processes share one stdout, in write order). */
const lineOf = (c: DemoCluster, pattern: RegExp) => c.lines.findIndex((l) => pattern.test(l));
const linesOf = (c: DemoCluster, pattern: RegExp) => c.lines.map((l, i) => (pattern.test(l) ? i : -1)).filter((i) => i >= 0);
/** The cluster's own dir: one gen-N/ per preload generation that is still in use. */
const clusterDir = (c: DemoCluster) =>
  join(c.dir, 'tmp', readdirSync(join(c.dir, 'tmp')).find((e) => e.startsWith(`nest-preload-${c.pid}-`)) as string);

describe('pipelined start (real processes)', () => {
  let cluster: DemoCluster | undefined;
  let BUNDLE_URLS: string;
  beforeAll(async () => (BUNDLE_URLS = await makeBundle(50)));
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  it('workers build their apps while the preloader runs, and run their own steps only after the manifest is written', async () => {
    // The preloader's slow step waits for a file this test creates once both workers wait: an event, not a delay.
    const gate = join(tmpdir(), `np-gate-${process.pid}-${Date.now()}`);
    cluster = await DemoCluster.start({
      workers: 3,
      preload: true,
      env: {
        PRELOAD_START: 'pipelined',
        PIPELINE_CONCURRENCY: '2',
        BUNDLE_URLS,
        DEMO_STEP_GATE: `types_cached@preloader:${gate}`,
        DEMO_FAIL_STEPS: 'profile_pictures@preloader',
      },
    });
    await eventually(
      () => linesOf(cluster as DemoCluster, /app built; waiting for the preload hand-over/).length === 2,
      60_000,
      'both workers are built and waiting',
    );
    writeFileSync(gate, '');
    expect((await cluster.waitReady())[3]).toBe('preloaded');
    const c = cluster;
    const preloaderPid = Number(/preloader started \(pid (\d+)/.exec(c.output())?.[1]);
    const waiting = linesOf(c, /app built; waiting for the preload hand-over/);
    const typesDone = lineOf(c, new RegExp(`\\[Nest\\] ${preloaderPid} .*step types_cached complete`));
    const handedOver = lineOf(c, /preload complete in \d+ ms/);
    const workerSteps = linesOf(c, /step profile_pictures complete/);
    expect(waiting).toHaveLength(2);
    // Both workers were built and waiting before the preloader finished its slow step...
    for (const i of waiting) expect(i).toBeLessThan(typesDone);
    // ...and neither ran a step before the hand-over existed.
    expect(workerSteps).toHaveLength(2);
    for (const i of workerSteps) expect(i).toBeGreaterThan(handedOver);
    expect(stepRuns(c.dir)).toMatchObject({ types_cached: { preloader: 1 }, profile_pictures: { worker: 2 } });
  });

  it.each([
    ['fails a critical step', { DEMO_FAIL_STEPS: 'types_cached@preloader' }, null],
    ['is killed', { DEMO_STEP_DELAY_MS: 'types_cached@preloader:30000' }, 'SIGKILL' as const],
  ])('when the preloader %s while the workers are booting, they do the full start-up and nothing of it is left', async (_, env, kill) => {
    // Three workers: the preloader holds index 0, two workers build beside it.
    cluster = await DemoCluster.start({
      workers: 3,
      preload: true,
      env: { PRELOAD_START: 'pipelined', PIPELINE_CONCURRENCY: '2', BUNDLE_URLS, ...env },
    });
    const [, pid] = await cluster.waitFor(/preloader started \(pid (\d+)/);
    if (kill) {
      await eventually(
        () => linesOf(cluster as DemoCluster, /waiting for the preload hand-over/).length === 2,
        30_000,
        'both workers are waiting',
      );
      process.kill(Number(pid), kill);
    }
    expect((await cluster.waitReady())[3]).toBe('not preloaded');
    expect(linesOf(cluster, /not preloaded: the preload was abandoned/)).toHaveLength(2);
    expect(readdirSync(clusterDir(cluster)).filter((e) => e.startsWith('gen-'))).toEqual([]);
    // ...and index 0, whose preloader failed, is taken by a worker started without a hand-over.
    expect(stepRuns(cluster.dir).types_cached).toEqual({ worker: 3 });
    for (const { status } of (await cluster.healthOfEveryWorker(3)).values()) expect(status).toBe(200);
    expect((await cluster.stop()).code).toBe(0);
    expect(readdirSync(join(cluster.dir, 'tmp'))).toEqual([]);
  });

  it('SIGTERM during a pipelined start: a clean exit 0, no process and no temp dir left', async () => {
    cluster = await DemoCluster.start({
      workers: 3,
      preload: true,
      env: {
        PRELOAD_START: 'pipelined',
        PIPELINE_CONCURRENCY: '2',
        BUNDLE_URLS,
        DEMO_STEP_DELAY_MS: 'types_cached@preloader:30000',
        GRACEFUL_TIMEOUT_MS: '5000',
      },
    });
    await eventually(
      () => linesOf(cluster as DemoCluster, /waiting for the preload hand-over/).length === 2,
      30_000,
      'both workers are waiting',
    );
    const stop = await cluster.stop('SIGTERM');
    expect(stop.code).toBe(0);
    expect(stop.ms).toBeLessThan(5_000);
    await eventually(() => !(cluster as DemoCluster).groupAlive(), 5_000, 'every process of the cluster exits');
    expect(readdirSync(join(cluster.dir, 'tmp'))).toEqual([]);
  });
});
