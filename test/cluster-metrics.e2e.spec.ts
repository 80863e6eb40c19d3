import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DemoCluster, eventually, get, TRACE_MODULES } from './support/demo-cluster';

// @lf/nest-preload/prometheus on the demo's /metrics: a scrape through the shared port lands on any
// worker and answers for the whole cluster; counters never go down when workers die.

jest.setTimeout(180_000);

const CLI = resolve(__dirname, '../libs/nest-preload/dist/cli.js');
const FLOWS = 'http_requests_total{method="GET",route="/api/v1/flows",status="200"}';
const SCRAPES = 'http_requests_total{method="GET",route="/metrics",status="200"}';

/** `nest-preload status --json` of the cluster. */
const statusOf = (cluster: DemoCluster) =>
  JSON.parse(spawnSync(process.execPath, [CLI, 'status', '--json'], { cwd: cluster.dir, encoding: 'utf8' }).stdout);

/** The value of one series of a Prometheus text answer, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A scrape on a fresh connection (so the kernel's round-robin picks the worker); retried when it lands on a hung one. */
async function scrape(cluster: DemoCluster, timeoutMs = 3_000): Promise<{ text: string; ms: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const started = Date.now();
    try {
      const answer = await get(cluster.port, '/metrics', timeoutMs);
      if (answer.status === 200) return { text: answer.body, ms: Date.now() - started };
    } catch {
      // landed on the hung worker: the next connection goes to another
    }
  }
  throw new Error('no worker answered /metrics');
}

describe('cluster-wide Prometheus metrics (real processes)', () => {
  let cluster: DemoCluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  it('every scrape holds the whole cluster: the same request total, monotonic, exact; it does not go down when a worker and its replacement are killed', async () => {
    const traceDir = mkdtempSync(join(tmpdir(), 'np-metrics-trace-'));
    // Pipelined, with the preloader's last step held until a worker waits for its hand-over.
    const gate = join(traceDir, 'go');
    cluster = await DemoCluster.start({
      workers: 4,
      preload: true,
      nodeArgs: ['--require', TRACE_MODULES],
      env: { PRELOADER: 'exits', PRELOAD_START: 'pipelined', DEMO_STEP_GATE: `flows@preloader:${gate}`, TRACE_MODULES_DIR: traceDir },
    });
    const starting = cluster;
    await eventually(
      async () =>
        existsSync(join(starting.dir, '.nest-preload/control.json')) &&
        statusOf(starting).workers.some((w: { state: string }) => w.state === 'waiting'),
      60_000,
      'a worker waiting for the hand-over',
    );
    writeFileSync(gate, '');
    await cluster.waitReady();
    const sent = 200;
    for (let i = 0; i < sent; i++) expect((await cluster.get('/api/v1/flows')).status).toBe(200);
    const scrapes: string[] = [];
    for (let i = 0; i < 10; i++) scrapes.push((await scrape(cluster)).text);
    // Whichever worker answered, the same cluster-wide total: every request, once.
    expect(scrapes.map((s) => sample(s, FLOWS))).toEqual(Array(10).fill(sent));
    // A scrape is counted once it finished, so scrape k sees the k before it: monotonic, and exact.
    expect(scrapes.map((s) => sample(s, SCRAPES) ?? 0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(scrapes.every((s) => sample(s, 'nest_preload_scrape_processes{freshness="fresh"}') === 4)).toBe(true);

    // The same values as `nest-preload status`, in the same run.
    const status = statusOf(cluster);
    const last = (await scrape(cluster)).text;
    expect(sample(last, 'nest_preload_workers_target')).toBe(status.target);
    expect(sample(last, 'nest_preload_workers{state="ready"}')).toBe(
      status.workers.filter((w: { state: string }) => w.state === 'ready').length,
    );
    expect(sample(last, `nest_preload_generation_info{generation="${status.preload.generation}"}`)).toBe(1);
    expect(last).not.toMatch(/^nest_preload_restarts_total\{/m);
    expect(sample(last, 'nest_preload_reloads_total')).toBe(0);
    // Where start-up time went, per worker: the same figures as status.
    for (const w of status.workers as Array<{ index: number; startMs: number; handoverWaitMs: number | null; lockWaitMs: number }>) {
      expect(sample(last, `nest_preload_worker_start_seconds{index="${w.index}"}`)).toBeCloseTo(w.startMs / 1_000, 3);
      if (w.handoverWaitMs !== null)
        expect(sample(last, `nest_preload_worker_handover_wait_seconds{index="${w.index}"}`)).toBeCloseTo(w.handoverWaitMs / 1_000, 3);
      // Every process recorded its start (the timeline is on by default), lock waits included.
      expect(typeof w.lockWaitMs).toBe('number');
      expect(sample(last, `nest_preload_worker_lock_wait_seconds{index="${w.index}"}`)).toBeCloseTo(w.lockWaitMs / 1_000, 3);
    }
    // Held by the gate: at least one worker built its app beside the preloader and waited.
    expect(status.workers.filter((w: { handoverWaitMs: number | null }) => w.handoverWaitMs !== null).length).toBeGreaterThanOrEqual(1);

    // kill -9 a worker, then its replacement: their counts are carried, nothing goes down.
    let before = sample(last, FLOWS) as number;
    for (let round = 0; round < 2; round++) {
      const c = cluster;
      const pid = statusOf(c).workers[1].pid as number;
      process.kill(pid, 'SIGKILL');
      await eventually(
        async () => {
          const s = statusOf(c);
          return (
            s.workers.filter((w: { state: string }) => w.state === 'ready').length === 4 &&
            !s.workers.some((w: { pid: number }) => w.pid === pid)
          );
        },
        30_000,
        'the killed worker replaced',
      );
      const after = (await scrape(cluster)).text;
      expect(sample(after, FLOWS)).toBeGreaterThanOrEqual(before);
      expect(sample(after, FLOWS)).toBe(sent);
      expect(sample(after, 'nest_preload_restarts_total{reason="killed"}')).toBe(round + 1);
      before = sample(after, FLOWS) as number;
    }
    expect((await cluster.stop()).code).toBe(0);
    // The primary relays JSON; it never loads prom-client.
    const [primary] = readdirSync(traceDir).filter((f) => f.startsWith('primary-'));
    const modules = JSON.parse(readFileSync(join(traceDir, primary), 'utf8')) as string[];
    expect(modules.filter((m) => m.includes(`${join('node_modules', 'prom-client')}`))).toEqual([]);
  });

  it('scrapes during a rolling reload: every one answers, the request total never goes down, and once the reload is done it is exact (a drained worker sends its last counts)', async () => {
    cluster = await DemoCluster.start({ workers: 3, preload: true });
    const c = cluster;
    await c.waitReady();
    // The serving preloader weighed (kept, or replaced) first: the reload is the only change under way.
    await c.waitSettled();
    const before = statusOf(c).workers.map((w: { pid: number }) => w.pid);
    let sent = 0;
    // Each round's figures, given with the cluster's output if a check fails.
    const rounds: Array<{ sent: number; flows: number; states: string }> = [];
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new Error(`${what}\nrounds: ${JSON.stringify(rounds)}\n--- cluster output:\n${c.output().slice(-5000)}`);
    };
    const send = async (n: number) => {
      for (let i = 0; i < n; i++, sent++) {
        const answer = await c.get('/api/v1/flows').catch((error: Error) => error);
        check(!(answer instanceof Error), `request ${sent + 1} failed: ${String(answer)}`);
        check((answer as { status: number }).status === 200, `request ${sent + 1} answered ${(answer as { status: number }).status}`);
      }
    };
    await send(30);
    process.kill(c.pid, 'SIGHUP');
    await c.waitFor(/rolling reload of 3 worker\(s\)/);
    let last = 0;
    for (;;) {
      await send(5);
      const flows = sample((await scrape(c)).text, FLOWS) as number;
      const s = statusOf(c);
      rounds.push({
        sent,
        flows,
        states: s.workers.map((w: { index: number; pid: number; state: string }) => `${w.index}:${w.pid}:${w.state}`).join(' '),
      });
      check(flows >= last, `the total went down from ${last} to ${flows}`);
      check(flows <= sent, `the total ${flows} is above the ${sent} requests sent`);
      last = flows;
      // Done once every old worker has drained and exited (status lists draining ones too).
      if (
        !s.reload &&
        s.workers.length === 3 &&
        s.workers.every((w: { state: string; pid: number }) => w.state === 'ready' && !before.includes(w.pid))
      )
        break;
    }
    check(rounds.length >= 4, `only ${rounds.length} scrapes during the reload`);
    const after = (await scrape(c)).text;
    check(sample(after, FLOWS) === sent, `after the reload the total is ${sample(after, FLOWS)}, not the ${sent} requests sent`);
    expect(sample(after, 'nest_preload_reloads_total')).toBe(1);
  });

  it("a worker that hangs is reported stale and the scrape still answers within its timeout, with that worker's last counts", async () => {
    cluster = await DemoCluster.start({
      workers: 3,
      preload: true,
      env: { PRELOADER: 'exits', DEMO_TEST_HOOKS: 'true', HEARTBEAT_TIMEOUT_MS: '60000' },
    });
    await cluster.waitReady();
    for (let i = 0; i < 60; i++) await cluster.get('/api/v1/flows');
    expect(sample((await scrape(cluster)).text, FLOWS)).toBe(60);
    expect((await cluster.get('/__test/hang')).status).toBe(200);
    const { text, ms } = await scrape(cluster);
    expect(sample(text, 'nest_preload_scrape_processes{freshness="stale"}')).toBe(1);
    expect(sample(text, 'nest_preload_scrape_processes{freshness="fresh"}')).toBe(2);
    expect(sample(text, FLOWS)).toBe(60);
    // The default collection timeout is 1 s; the scrape is not held by the hung worker.
    expect(ms).toBeLessThan(2_900);
  });
});
