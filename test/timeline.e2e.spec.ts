import Ajv from 'ajv';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import schema from '../libs/nest-preload/src/timeline/testing/trace-event.schema.json';
import { DemoCluster, eventually } from './support/demo-cluster';

jest.setTimeout(180_000);

const CLI = resolve(__dirname, '../libs/nest-preload/dist/cli.js');
const validate = new Ajv({ allErrors: true }).compile(schema);

interface Event {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  cat?: string;
  args?: Record<string, unknown>;
}
interface Trace {
  traceEvents: Event[];
  otherData: { primaryPid: number; target: number; clusterReadyMs: number | null; recordingCostMs: { primary: number; children: number } };
}

function cli(c: DemoCluster, args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: c.dir, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const traceFile = (c: DemoCluster) => join(c.dir, '.nest-preload', 'timeline.json');
const readTrace = (c: DemoCluster): Trace => JSON.parse(readFileSync(traceFile(c), 'utf8'));
const spansOf = (t: Trace, pid: number) => t.traceEvents.filter((e) => e.ph === 'X' && e.pid === pid);
const marksOf = (t: Trace, pid: number) => t.traceEvents.filter((e) => e.ph === 'i' && e.pid === pid).map((e) => e.name);
const end = (e: Event) => e.ts + (e.dur ?? 0);

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

describe('the start-up timeline (real processes)', () => {
  let cluster: DemoCluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  it('a preloaded start: the trace is Perfetto-readable, holds the preloader’s phases (each step, its lock wait) and each worker’s, and `nest-preload timeline` draws them', async () => {
    cluster = await DemoCluster.start({ workers: 3, preload: true });
    const c = cluster;
    const [, readyMs] = (await c.waitFor(/cluster ready: 3\/3 workers \(preloaded.* in (\d+) ms/)) as unknown as [string, string];
    await eventually(() => existsSync(traceFile(c)), 10_000, 'the timeline written');
    const trace = readTrace(c);
    expect(validate(trace)).toBe(true);
    expect(validate.errors ?? null).toBeNull();
    const status = JSON.parse(cli(c, ['status', '--json']).stdout);
    const pid = (index: number) => status.workers.find((w: { index: number }) => w.index === index).pid as number;
    const names = new Map(trace.traceEvents.filter((e) => e.name === 'process_name').map((e) => [e.pid, String(e.args?.name)]));
    expect([...names.entries()]).toEqual([
      [c.pid, `primary (pid ${c.pid})`],
      [pid(0), `preloader, serves as worker 0 (pid ${pid(0)})`],
      [pid(1), `worker 1 (pid ${pid(1)})`],
      [pid(2), `worker 2 (pid ${pid(2)})`],
    ]);

    // The preloader: forked, booted, built its app, ran every step in the plan's order, handed over, served.
    const pre = spansOf(trace, pid(0));
    const phase = (spans: Event[], name: string) => {
      const found = spans.find((e) => e.name === name);
      if (!found) throw new Error(`no phase "${name}" in ${spans.map((e) => e.name).join(', ')}`);
      return found;
    };
    const order = [
      'fork',
      'node boot + imports',
      'import app module',
      'app build',
      ...STEPS.map((s) => `step ${s}`),
      'write hand-over',
      'serve',
    ];
    const starts = order.map((n) => phase(pre, n).ts);
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
    for (let i = 1; i < order.length; i++) expect(phase(pre, order[i]).ts).toBeGreaterThanOrEqual(end(phase(pre, order[i - 1])) - 1);
    expect(marksOf(trace, pid(0))).toEqual(['forked', 'handed over', 'ready']);
    // Each value a step returned is written right after it, before the next step starts.
    const written = phase(pre, 'write result types_cached');
    expect(written.ts).toBeGreaterThanOrEqual(end(phase(pre, 'step types_cached')) - 1);
    expect(end(written)).toBeLessThanOrEqual(phase(pre, 'write hand-over').ts + 1);
    // Each lock wait lies inside its step: the runner's step locks, and the lock the superuser step takes itself.
    for (const [lock, step] of [
      ['step-migrations', 'migrations'],
      ['superuser', 'superuser'],
      ['step-profile_pictures', 'profile_pictures'],
      ['step-flows', 'flows'],
    ]) {
      const wait = phase(pre, `lock wait ${lock}`);
      const within = phase(pre, `step ${step}`);
      expect([wait.ts >= within.ts, end(wait) <= end(within) + 1]).toEqual([true, true]);
    }
    expect(pre.some((e) => e.name === 'lock wait step-bundles')).toBe(false); // a process-scope step takes no lock

    // Each worker built its app, ran no step (all were done) and served. Worker 1, forked beside the
    // preloader, waited for the hand-over; worker 2 waited too if it was forked before the hand-over
    // (at most pipelineConcurrency build beside the preloader), else it started from it at once.
    const handedOver = trace.traceEvents.find((e) => e.pid === pid(0) && e.name === 'handed over') as Event;
    for (const index of [1, 2]) {
      const spans = spansOf(trace, pid(index));
      const waited = spans.some((e) => e.name === 'hand-over wait');
      expect(spans.map((e) => e.name)).toEqual([
        'fork',
        'node boot + imports',
        'import app module',
        'app build',
        ...(waited ? ['hand-over wait'] : []),
        'serve',
      ]);
      if (index === 1) expect(waited).toBe(true);
      // A wait ends after the primary learnt of the hand-over (one clock for every process); a worker
      // forked after it started there.
      if (waited) expect(end(phase(spans, 'hand-over wait'))).toBeGreaterThanOrEqual(handedOver.ts);
      else expect(phase(spans, 'fork').ts).toBeGreaterThanOrEqual(handedOver.ts);
      expect(marksOf(trace, pid(index))).toEqual(['forked', 'ready']);
    }
    expect(trace.otherData.target).toBe(3);
    expect(Math.abs((trace.otherData.clusterReadyMs as number) - Number(readyMs))).toBeLessThanOrEqual(20);
    // Recording is off the hot path: what it cost, measured by itself, against the start it recorded (same run).
    const { primary, children } = trace.otherData.recordingCostMs;
    expect((primary + children) / (trace.otherData.clusterReadyMs as number)).toBeLessThan(0.01);

    // The same start as a chart: a block per process, every step a row.
    const chart = cli(c, ['timeline', '--width', '80']);
    expect([chart.code, chart.stderr]).toEqual([0, '']);
    expect(chart.stdout).toMatch(new RegExp(`^start-up timeline of primary pid ${c.pid}, .*: 3 worker\\(s\\) ready in `));
    for (const index of [0, 1, 2]) expect(chart.stdout).toContain(`(pid ${pid(index)})`);
    for (const step of STEPS) expect(chart.stdout).toMatch(new RegExp(`^\\s+step ${step}\\s+ *[█~]+ *\\s+\\d+ ms`, 'm'));
    expect(chart.stdout.match(/^\s+hand-over wait\s/gm)?.length).toBe(trace.traceEvents.filter((e) => e.name === 'hand-over wait').length);
    expect(chart.stdout).toContain(`trace: ${traceFile(c)}`);
  });

  it('a worker that waits for another’s start-up lock: the wait is in its timeline inside its step, in status and in the chart', async () => {
    const gate = join(tmpdir(), `np-gate-tl-${process.pid}-${Date.now()}`);
    cluster = await DemoCluster.start({ workers: 2, preload: false, env: { DEMO_STEP_GATE: `profile_pictures:${gate}` } });
    const c = cluster;
    // One worker holds the step's lock at the gate; the other finds the lock held and says so.
    await c.waitFor(/The startup lock "step-profile_pictures" is held by/);
    const heldFrom = Date.now();
    await new Promise((r) => setTimeout(r, 1_500));
    writeFileSync(gate, '');
    // The waiter was waiting before the line was seen, and until after the gate opened.
    const waitedAtLeast = Date.now() - heldFrom;
    await c.waitReady();
    await eventually(() => existsSync(traceFile(c)), 10_000, 'the timeline written');
    const trace = readTrace(c);
    expect(validate(trace)).toBe(true);
    const status = JSON.parse(cli(c, ['status', '--json']).stdout);
    const waits = status.workers
      .map((w: { pid: number; lockWaitMs: number }) => {
        const spans = spansOf(trace, w.pid);
        const wait = spans.find((e) => e.name === 'lock wait step-profile_pictures') as Event;
        const step = spans.find((e) => e.name === 'step profile_pictures') as Event;
        expect([wait.ts >= step.ts, end(wait) <= end(step) + 1]).toEqual([true, true]);
        return { pid: w.pid, waitMs: (wait.dur as number) / 1000, lockWaitMs: w.lockWaitMs };
      })
      .sort((a: { waitMs: number }, b: { waitMs: number }) => b.waitMs - a.waitMs);
    // The waiter waited the whole hold; the holder did not wait.
    expect(waits[0].waitMs).toBeGreaterThanOrEqual(waitedAtLeast);
    expect(waits[1].waitMs).toBeLessThan(1_000);
    // status sums every lock wait of the start (migrations and superuser too), so it holds at least this one.
    expect(waits[0].lockWaitMs).toBeGreaterThanOrEqual(Math.floor(waits[0].waitMs));
    const chart = cli(c, ['timeline']).stdout;
    const row = chart.split('\n').find((l) => /^\s*(worker \d \(pid \d+\))?\s+step profile_pictures/.test(l) && /lock wait/.test(l));
    expect(row).toMatch(/~+/);
    expect(row).toMatch(/\(lock wait \d+\.\d\d s\)$/);
  });

  it('outlives the cluster: after a stop it holds every exit, and the CLI still draws it', async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true });
    const c = cluster;
    await c.waitReady();
    const pids = JSON.parse(cli(c, ['status', '--json']).stdout).workers.map((w: { pid: number }) => w.pid);
    const stopped = await c.stop('SIGTERM');
    expect(stopped.code).toBe(0);
    const trace = readTrace(c);
    expect(validate(trace)).toBe(true);
    for (const pid of pids) expect(marksOf(trace, pid)).toEqual(expect.arrayContaining(['ready', 'exit (code 0)']));
    const chart = cli(c, ['timeline']);
    expect(chart.code).toBe(0);
    expect(chart.stdout).toMatch(/exit \(code 0\)/);
  });
});
