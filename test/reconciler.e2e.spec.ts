import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { DemoCluster, eventually, get } from './support/demo-cluster';
import { stepRuns } from './support/sqlite';

/**
 * Overlapping events, with real processes: each case here lost an intent or killed healthy work
 * when the supervisor was edge-triggered. Steps wait for files the test creates, not for delays.
 */
const count = (c: DemoCluster, pattern: RegExp) => c.lines.filter((l) => pattern.test(l)).length;

/** Opens a request that stays open (an SSE stream or a slow request); resolves with its status when it ends. */
function openRequest(port: number, path: string): { done: Promise<{ status: number; error: string | null }> } {
  const done = new Promise<{ status: number; error: string | null }>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: null }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, error: e.message }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, error: 'aborted' }));
    });
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    req.end();
  });
  return { done };
}

describe('the reconciler with overlapping events (real processes)', () => {
  let cluster: DemoCluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  it('A: a SIGHUP during the first preload is kept and carried out once the cluster is ready', async () => {
    const gate = join(require('node:os').tmpdir(), `np-gate-${process.pid}-${Date.now()}`);
    cluster = await DemoCluster.start({ workers: 2, preload: true, env: { DEMO_STEP_GATE: `types_cached@preloader:${gate}` } });
    const c = cluster;
    await c.waitFor(/step types_cached started/);
    process.kill(c.pid, 'SIGHUP');
    await c.waitFor(/SIGHUP received during the start-up: queued/);
    writeFileSync(gate, '');
    await c.waitReady();
    const before = new Set(c.childPids());
    await c.waitFor(/\breload complete in \d+ ms/, 60_000);
    const after = c.childPids();
    expect(after).toHaveLength(2);
    expect(after.filter((pid) => before.has(pid))).toEqual([]);
    expect(count(c, /rolling reload of 2 worker\(s\)/)).toBe(1);
  });

  it('C: SIGTTOU during a rolling reload settles at the new target', async () => {
    cluster = await DemoCluster.start({ workers: 3, preload: true, env: { DEMO_TEST_HOOKS: 'true' } });
    const c = cluster;
    await c.waitReady();
    process.kill(c.pid, 'SIGHUP');
    await c.waitFor(/rolling reload of 3 worker/);
    process.kill(c.pid, 'SIGTTOU');
    await c.waitFor(/\breload complete in \d+ ms/, 60_000);
    await eventually(() => c.childPids().length === 2, 20_000, 'two workers left');
    // And it stays there: nothing brings the removed index back.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(c.childPids()).toHaveLength(2);
    const indices = new Set([...(await c.healthOfEveryWorker(2)).values()].map((w) => w.body.details.preload.workerIndex));
    expect([...indices].sort()).toEqual([0, 1]);
  });

  it('D: six 15-second requests in flight through a SIGHUP all answer 200, and no draining worker is called hung', async () => {
    cluster = await DemoCluster.start({
      workers: 2,
      preload: true,
      env: { DEMO_TEST_HOOKS: 'true', HEARTBEAT_TIMEOUT_MS: '3000', DRAIN_TIMEOUT_MS: '40000', GRACEFUL_TIMEOUT_MS: '40000' },
    });
    const c = cluster;
    await c.waitReady();
    const slow = Array.from({ length: 6 }, () => openRequest(c.port, '/__test/slow?ms=15000'));
    await new Promise((r) => setTimeout(r, 1_000));
    process.kill(c.pid, 'SIGHUP');
    const answers = await Promise.all(slow.map((s) => s.done));
    expect(answers).toEqual(Array.from({ length: 6 }, () => ({ status: 200, error: null })));
    await c.waitFor(/\breload complete in \d+ ms/, 30_000);
    expect(c.output()).not.toMatch(/hung event loop/);
    expect(c.output()).not.toMatch(/perhaps out of memory/);
  }, 120_000);

  it('E: a first preload longer than bootTimeoutMs comes up (the boot timer pauses while workers wait for the hand-over)', async () => {
    cluster = await DemoCluster.start({
      workers: 2,
      preload: true,
      env: { BOOT_TIMEOUT_MS: '5000', DEMO_STEP_DELAY_MS: 'types_cached@preloader:9000', PRELOAD_START: 'pipelined' },
    });
    const c = cluster;
    expect((await c.waitReady(60_000))[3]).toBe('preloaded');
    expect(c.output()).not.toMatch(/not ready within bootTimeoutMs/);
  }, 90_000);

  it('a drain is bounded: a client that never closes (SSE) is cut at drainTimeoutMs, and the log says how many connections', async () => {
    cluster = await DemoCluster.start({ workers: 1, preload: true, env: { DEMO_TEST_HOOKS: 'true', DRAIN_TIMEOUT_MS: '3000' } });
    const c = cluster;
    await c.waitReady();
    const stream = openRequest(c.port, '/__test/sse');
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    process.kill(c.pid, 'SIGHUP');
    await c.waitFor(/\breload complete in \d+ ms/, 30_000);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(c.output()).toMatch(/still draining after drainTimeoutMs \(3000 ms\)/);
    expect(c.output()).toMatch(/drain timeout: closing 1 connection\(s\) still open/);
    expect((await stream.done).status).toBe(200);
    expect((await get(c.port, '/health/preload')).status).toBe(200);
  }, 60_000);

  it('the preloader serves as worker 0, steps run once, and the other workers start from its hand-over', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    const c = cluster;
    expect((await c.waitReady())[3]).toBe('preloaded');
    const preloaderPid = Number(/preloader started \(pid (\d+)/.exec(c.output())?.[1]);
    const health = await c.healthOfEveryWorker(2);
    expect(health.has(preloaderPid)).toBe(true);
    expect(health.get(preloaderPid)?.body.details.preload).toMatchObject({ role: 'preloader', workerIndex: 0 });
    expect(stepRuns(c.dir).types_cached).toEqual({ preloader: 1 });
    expect(c.childPids()).toHaveLength(2);
  });

  it("preloader: 'exits' keeps the short-lived preloader", async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true, env: { PRELOADER: 'exits' } });
    const c = cluster;
    expect((await c.waitReady())[3]).toBe('preloaded');
    const preloaderPid = Number(/preloader started \(pid (\d+)/.exec(c.output())?.[1]);
    await eventually(() => !c.childPids().includes(preloaderPid), 10_000, 'the preloader exits');
    const health = await c.healthOfEveryWorker(2);
    expect([...health.values()].map((w) => w.body.details.preload.role)).toEqual(['worker', 'worker']);
  });
});
