import Ajv from 'ajv';
import { TIMELINE, type TimelineMessage } from '../ipc/messages';
import { StartTimeline } from '../supervisor/start-timeline';
import type { Span } from './span';
import schema from './testing/trace-event.schema.json';
import { formatGantt, traceProblem } from './trace';

const T0 = 1_700_000_000_000;
const validate = new Ajv({ allErrors: true }).compile(schema);

/** A start: the primary at T0, a serving preloader and one worker, as the supervisor records it. */
function sampleTimeline() {
  const tl = new StartTimeline(T0, 42, () => 2);
  tl.forked(1, 100, 'preloader, serves as worker 0', 2, T0 + 5);
  tl.forked(2, 101, 'worker 1', 3, T0 + 6);
  const preloader: Span[] = [
    { name: 'node boot + imports', kind: 'boot', start: T0 + 10, end: T0 + 400 },
    { name: 'app build', kind: 'app', start: T0 + 400, end: T0 + 900 },
    { name: 'step migrations', kind: 'step', start: T0 + 900, end: T0 + 1_900, args: { role: 'preloader', critical: true } },
    { name: 'lock wait step-migrations', kind: 'lock', start: T0 + 900, end: T0 + 1_400, args: { scope: 'database' } },
    { name: 'write hand-over', kind: 'handover', start: T0 + 1_900, end: T0 + 1_910 },
    { name: 'serve', kind: 'serve', start: T0 + 1_910, end: T0 + 1_950 },
  ];
  const worker: Span[] = [
    { name: 'node boot + imports', kind: 'boot', start: T0 + 12, end: T0 + 420 },
    { name: 'app build', kind: 'app', start: T0 + 420, end: T0 + 950 },
    { name: 'hand-over wait', kind: 'handover', start: T0 + 950, end: T0 + 1_915 },
    { name: 'serve', kind: 'serve', start: T0 + 1_915, end: T0 + 1_960 },
  ];
  const message = (spans: Span[], origin: number): TimelineMessage => ({ type: TIMELINE, origin, spans, costMs: 0.05 });
  expect(tl.reported(1, message(preloader, T0 + 10))).toBe(true);
  tl.mark(1, 'handed over', T0 + 1_910);
  tl.mark(1, 'ready', T0 + 1_951);
  expect(tl.reported(2, message(worker, T0 + 12))).toBe(true);
  tl.mark(2, 'ready', T0 + 1_961);
  tl.primarySpan('preload gen-1', T0 + 5, T0 + 1_910);
  tl.clusterReady(T0 + 1_961);
  return tl;
}

describe('the start-up trace', () => {
  it('is Chrome trace-event JSON as Perfetto reads it: one named process per cluster process, phases as X events in µs, marks as instants', () => {
    const trace = sampleTimeline().trace();
    expect(validate(trace)).toBe(true);
    expect(validate.errors ?? null).toBeNull();
    const names = trace.traceEvents.filter((e) => e.name === 'process_name').map((e) => [e.pid, (e.args as { name: string }).name]);
    expect(names).toEqual([
      [42, 'primary (pid 42)'],
      [100, 'preloader, serves as worker 0 (pid 100)'],
      [101, 'worker 1 (pid 101)'],
    ]);
    const x = (pid: number, name: string) => trace.traceEvents.find((e) => e.ph === 'X' && e.pid === pid && e.name === name);
    expect(x(100, 'fork')).toMatchObject({ ts: 5_000, dur: 5_000, cat: 'fork' });
    expect(x(100, 'step migrations')).toMatchObject({
      ts: 900_000,
      dur: 1_000_000,
      cat: 'step',
      args: { role: 'preloader', critical: true },
    });
    expect(x(100, 'lock wait step-migrations')).toMatchObject({ ts: 900_000, dur: 500_000, cat: 'lock' });
    // At one start the longer span comes first, so that a viewer nests the lock wait inside its step.
    const preloaderX = trace.traceEvents.filter((e) => e.ph === 'X' && e.pid === 100).map((e) => e.name);
    expect(preloaderX.indexOf('step migrations')).toBeLessThan(preloaderX.indexOf('lock wait step-migrations'));
    expect(x(42, 'cluster start')).toMatchObject({ ts: 0, dur: 1_961_000 });
    expect(trace.traceEvents.filter((e) => e.ph === 'i' && e.pid === 101).map((e) => e.name)).toEqual(['forked', 'ready']);
    expect(trace.otherData).toEqual({
      version: 1,
      primaryPid: 42,
      startedAt: new Date(T0).toISOString(),
      target: 2,
      clusterReadyMs: 1_961,
      recordingCostMs: { primary: expect.any(Number), children: 0.1 },
    });
    // Taking the two reports is the primary's only cost so far (nothing was written).
    expect(trace.otherData.recordingCostMs.primary).toBeLessThan(5);
    expect(traceProblem(trace)).toBeNull();
  });

  it('the schema check can fail: an X event without its duration, a negative time or an unnamed process are refused', () => {
    const trace = sampleTimeline().trace();
    const broken = (edit: (t: typeof trace) => void) => {
      const copy = JSON.parse(JSON.stringify(trace));
      edit(copy);
      return validate(copy);
    };
    expect(broken((t) => delete t.traceEvents.find((e) => e.ph === 'X')!.dur)).toBe(false);
    expect(broken((t) => (t.traceEvents.find((e) => e.ph === 'X')!.ts = -1))).toBe(false);
    expect(broken((t) => delete (t.traceEvents.find((e) => e.name === 'process_name')!.args as Record<string, unknown>).name)).toBe(false);
  });

  it('prints as a Gantt chart: a row per phase under its process, the lock wait drawn inside its step, the marks on the time axis', () => {
    const chart = formatGantt(sampleTimeline().trace(), 40);
    const lines = chart.split('\n');
    expect(lines[0]).toBe(`start-up timeline of primary pid 42, started ${new Date(T0).toISOString()}: 2 worker(s) ready in 1.96 s`);
    const row = (process: string | null, phase: string) => {
      const at = lines.findIndex((l) => l.includes(` ${phase} `) && (process === null || l.startsWith(process)));
      expect(at).toBeGreaterThanOrEqual(0);
      return lines[at];
    };
    // The time axis starts where the tick line's first "|" is.
    const axis = lines[4].indexOf('|');
    expect(axis).toBeGreaterThan(20);
    const bar = (line: string) => line.slice(axis, axis + 40);
    // 40 columns over 1.961 s: migrations from 0.9 s to 1.9 s is columns 18–38, its lock wait the first half.
    const migrations = row(null, 'step migrations');
    expect(migrations).toMatch(/1\.00 s \(lock wait 500 ms\)$/);
    expect(bar(migrations).indexOf('~')).toBe(18);
    expect(bar(migrations).lastIndexOf('~')).toBeLessThan(bar(migrations).indexOf('█'));
    expect(bar(migrations).lastIndexOf('█')).toBe(38);
    // The lock wait has no row of its own: it is in its step's.
    expect(lines.some((l) => l.includes('lock wait step-migrations'))).toBe(false);
    expect(row('worker 1 (pid 101)', 'fork')).toMatch(/·/);
    expect(row(null, 'hand-over wait')).toMatch(/965 ms$/);
    expect(row(null, 'cluster ready')).toMatch(/at 1\.96 s$/);
    expect(lines.filter((l) => / ready {2,}/.test(l) && /at 1\.9\d s$/.test(l))).toHaveLength(3);
    expect(lines.some((l) => l.includes(' forked '))).toBe(false);
    expect(chart).toContain('legend:');
  });

  it('names what is wrong with a file that is not a trace of ours', () => {
    expect(traceProblem(null)).toBe('it is not a JSON object');
    expect(traceProblem({ events: [] })).toBe('it has no "traceEvents" list');
    expect(traceProblem({ traceEvents: [], otherData: { version: 9 } })).toBe('its version is 9 (this CLI reads 1)');
  });
});
