import { createServer } from 'node:net';
import { alive, DemoCluster, eventually, freePort, get } from './support/demo-cluster';

/** index → pid of the serving workers, read from /health/preload details. */
async function workersByIndex(c: DemoCluster, count: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const { body } of (await c.healthOfEveryWorker(count)).values()) out.set(body.details.preload.workerIndex, body.details.preload.pid);
  return out;
}

describe('supervision (real processes and signals)', () => {
  let cluster: DemoCluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  it('kill -9 of a worker: it is replaced under the same index with a new pid', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    await cluster.waitReady();
    const before = await workersByIndex(cluster, 2);
    process.kill(before.get(1) as number, 'SIGKILL');
    await cluster.waitFor(
      /worker 1 \(pid \d+\) was killed by SIGKILL \(not by the supervisor: perhaps out of memory\?\); replacing it in \d+ ms/,
    );
    await eventually(
      async () => (await workersByIndex(cluster as DemoCluster, 2)).get(1) !== before.get(1),
      20_000,
      'index 1 serves again',
    );
    const after = await workersByIndex(cluster, 2);
    expect(after.get(0)).toBe(before.get(0));
    expect(after.get(1)).not.toBe(before.get(1));
    expect(alive(before.get(1) as number)).toBe(false);
  });

  it('a worker stuck in an endless loop is killed within the heartbeat timeout and replaced', async () => {
    cluster = await DemoCluster.start({
      workers: 2,
      preload: true,
      env: { DEMO_TEST_HOOKS: 'true', HEARTBEAT_INTERVAL_MS: '300', HEARTBEAT_TIMEOUT_MS: '2000' },
    });
    await cluster.waitReady();
    const hung = (await cluster.get('/__test/hang')).json().pid as number;
    const hungAt = Date.now();
    await cluster.waitFor(
      new RegExp(`worker \\d \\(pid ${hung}\\) has not answered for \\d+ ms \\(hung event loop\\): killing it`),
      15_000,
    );
    await eventually(() => !alive(hung), 10_000, 'the hung worker is gone');
    // Detected within timeout + one watchdog tick, killed within the SIGKILL grace after that.
    expect(Date.now() - hungAt).toBeLessThan(2_000 + 300 + 2_000 + 1_500);
    await eventually(async () => (await (cluster as DemoCluster).healthOfEveryWorker(2)).size === 2, 20_000, 'two workers serve again');
  });

  it('a worker that throws at boot halts the cluster with a non-zero exit instead of restarting it in a loop', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: false, env: { DEMO_FAIL_STEPS: 'migrations', MAX_RESTARTS: '5' } });
    const exit = await cluster.waitExit();
    expect(exit.code).toBe(3);
    expect(cluster.output()).toContain(
      'before it became ready during the first start: a boot error; halting instead of restarting it in a loop',
    );
    // Only the first two workers were ever forked: no restart loop.
    expect(new Set(cluster.output().match(/\[Nest\] (\d+) .*Starting Nest application/g) ?? []).size).toBeLessThanOrEqual(2);
  });

  it('EADDRINUSE: the cluster halts with a clear message and a non-zero exit', async () => {
    const port = await freePort();
    const blocker = createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      cluster = await DemoCluster.start({ workers: 2, preload: true, env: { PORT: String(port) } });
      const exit = await cluster.waitExit();
      expect(exit.code).toBe(3);
      expect(cluster.output()).toMatch(/EADDRINUSE/);
      expect(cluster.output()).toContain('a boot error; halting');
    } finally {
      blocker.close();
    }
  });

  it('SIGTERM while requests are in flight: every request completes, exit 0, no orphan process', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true, env: { DEMO_TEST_HOOKS: 'true', GRACEFUL_TIMEOUT_MS: '10000' } });
    await cluster.waitReady();
    const c = cluster;
    const inFlight = Array.from({ length: 6 }, () => get(c.port, '/__test/slow?ms=2000', 15_000));
    await new Promise((r) => setTimeout(r, 500));
    const pids = c.childPids();
    const stop = c.stop('SIGTERM');
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(answers.every((a) => a.json().waitedMs === 2000)).toBe(true);
    expect((await stop).code).toBe(0);
    await eventually(() => pids.every((pid) => !alive(pid)) && !c.groupAlive(), 5_000, 'no process is left');
  });

  it('kill -9 of the primary: the workers exit on their own within 5 s', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    await cluster.waitReady();
    const pids = cluster.childPids();
    expect(pids).toHaveLength(2);
    process.kill(cluster.pid, 'SIGKILL');
    const killedAt = Date.now();
    await eventually(() => pids.every((pid) => !alive(pid)), 5_000, 'every worker exits');
    expect(Date.now() - killedAt).toBeLessThan(5_000);
  });

  it('SIGTTIN adds a worker, SIGTTOU removes one, never below one', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    await cluster.waitReady();
    const c = cluster;
    process.kill(c.pid, 'SIGTTIN');
    await eventually(async () => (await c.healthOfEveryWorker(3)).size === 3, 20_000, 'three workers serve');
    // One signal at a time: the same standard signal sent twice before it is handled is delivered once.
    for (const n of [2, 1]) {
      process.kill(c.pid, 'SIGTTOU');
      await c.waitFor(new RegExp(`SIGTTOU: scaling from ${n + 1} to ${n} worker`), 10_000);
      await eventually(() => c.childPids().length === n, 20_000, `${n} worker(s) left`);
    }
    process.kill(c.pid, 'SIGTTOU');
    await c.waitFor(/SIGTTOU ignored: the cluster keeps at least one worker/, 10_000);
    expect(c.childPids()).toHaveLength(1);
    expect((await workersByIndex(c, 1)).has(0)).toBe(true);
  });

  it('maxRequests recycles a worker gracefully: a replacement first, no failed request', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true, env: { MAX_REQUESTS: '40', HEARTBEAT_INTERVAL_MS: '200' } });
    await cluster.waitReady();
    let failures = 0;
    for (let i = 0; i < 200; i++) if ((await cluster.get('/api/v1/all').catch(() => ({ status: 0 }))).status !== 200) failures++;
    await cluster.waitFor(/recycling worker \d \(pid \d+\): served \d+ requests \(maxRequests 40\)/, 10_000);
    await cluster.waitFor(/worker \d replaced: pid \d+ → \d+; draining the old one/, 20_000);
    await cluster.waitFor(/worker \d \(pid \d+\) exited with code 0 \(replaced\)/, 20_000);
    expect(failures).toBe(0);
  });

  it('one worker leads; when it dies another takes over; the health details carry the cluster view', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    await cluster.waitReady();
    const c = cluster;
    const leaders = async () =>
      [...(await c.healthOfEveryWorker(2)).values()].filter((w) => w.body.details.preload.leader).map((w) => w.body.details.preload.pid);
    const [first] = await leaders();
    expect(await leaders()).toEqual([first]);
    const view = (await c.get('/health/preload')).json().details.preload.cluster;
    expect(view).toMatchObject({
      state: 'running',
      ready: 2,
      target: 2,
      restarts: 0,
      generation: expect.any(String),
      preloadDurationMs: expect.any(Number),
    });
    expect(view.workers.map((w: { index: number }) => w.index)).toEqual([0, 1]);
    process.kill(first, 'SIGKILL');
    await eventually(
      async () => {
        const now = await leaders();
        return now.length === 1 && now[0] !== first;
      },
      20_000,
      'another worker leads',
    );
  });
});
