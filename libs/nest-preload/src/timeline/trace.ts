/**
 * The start-up timeline as a file: Chrome's Trace Event Format (JSON object form), which Perfetto
 * (ui.perfetto.dev) and `chrome://tracing` open. One trace process per cluster process (the
 * primary, the preloader, each worker), its phases as complete (`X`) events — a lock wait nested
 * inside its step —, its marks (ready, exit) as instant (`i`) events, its name as metadata (`M`).
 * Timestamps are microseconds since the primary started. Nest-free: the primary and the CLI use it.
 */
import type { Span, SpanKind } from './span';

export const TRACE_VERSION = 1;

export interface TraceEvent {
  name: string;
  /** `X` complete, `i` instant, `M` metadata. */
  ph: 'X' | 'i' | 'M';
  /** Microseconds since the primary started. */
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  cat?: string;
  /** Instant events: scoped to their thread. */
  s?: 't';
  args?: Record<string, unknown>;
}

/** What the trace says of the whole start, beside its events. */
export interface TraceSummary {
  version: typeof TRACE_VERSION;
  primaryPid: number;
  startedAt: string;
  target: number;
  /** From the primary's start until every worker was ready, or null if it never was. */
  clusterReadyMs: number | null;
  /**
   * The time recording took: the children's (their clock reads and pushes) and the primary's
   * (taking their reports, and building and writing the trace — every write before this one).
   */
  recordingCostMs: { primary: number; children: number };
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  otherData: TraceSummary;
}

/** One process's track in the trace. */
export interface TraceTrack {
  pid: number;
  label: string;
  /** Order of the tracks in a viewer. */
  sort: number;
  spans: Array<Pick<Span, 'name' | 'start' | 'end' | 'args'> & { kind: SpanKind | 'fork' | 'cluster' }>;
  marks: Array<{ name: string; at: number; args?: Record<string, unknown> }>;
}

const us = (ms: number) => Math.round(ms * 1000);

/** Builds the trace from tracks whose times are epoch ms; `origin` (epoch ms) is its zero. */
export function buildTrace(origin: number, tracks: readonly TraceTrack[], summary: TraceSummary): ChromeTrace {
  const traceEvents: TraceEvent[] = [];
  for (const track of tracks) {
    traceEvents.push({ name: 'process_name', ph: 'M', ts: 0, pid: track.pid, tid: track.pid, args: { name: track.label } });
    traceEvents.push({ name: 'process_sort_index', ph: 'M', ts: 0, pid: track.pid, tid: track.pid, args: { sort_index: track.sort } });
    traceEvents.push({ name: 'thread_name', ph: 'M', ts: 0, pid: track.pid, tid: track.pid, args: { name: 'start-up' } });
    // Longer spans first at the same start, so a viewer nests the shorter (a lock wait) inside.
    const spans = [...track.spans].sort((a, b) => a.start - b.start || b.end - a.end);
    for (const span of spans) {
      traceEvents.push({
        name: span.name,
        cat: span.kind,
        ph: 'X',
        ts: us(span.start - origin),
        dur: us(span.end - span.start),
        pid: track.pid,
        tid: track.pid,
        ...(span.args ? { args: span.args } : {}),
      });
    }
    for (const mark of track.marks)
      traceEvents.push({
        name: mark.name,
        cat: 'mark',
        ph: 'i',
        s: 't',
        ts: us(mark.at - origin),
        pid: track.pid,
        tid: track.pid,
        ...(mark.args ? { args: mark.args } : {}),
      });
  }
  return { traceEvents, displayTimeUnit: 'ms', otherData: summary };
}

/** Why `value` is not a trace this library wrote, or null. */
export function traceProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'it is not a JSON object';
  const trace = value as Partial<ChromeTrace>;
  if (!Array.isArray(trace.traceEvents)) return 'it has no "traceEvents" list';
  if (trace.otherData?.version !== TRACE_VERSION)
    return `its version is ${JSON.stringify(trace.otherData?.version)} (this CLI reads ${TRACE_VERSION})`;
  return null;
}

/** A step's lock wait is named in its row from this long (µs): below it, it is the lock's own cost, not a wait for another holder. */
const LOCK_WAIT_SHOWN_US = 50_000;

const BAR: Record<string, string> = {
  fork: '·',
  boot: '░',
  app: '▒',
  handover: '-',
  step: '█',
  lock: '~',
  teardown: '▒',
  serve: '▓',
  cluster: '=',
};

function seconds(us: number): string {
  const ms = us / 1000;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/**
 * The trace as a terminal Gantt chart: one row per phase, grouped by process, on a shared time
 * axis `width` columns wide; a lock wait is drawn inside its step with `~`, marks with `|`.
 */
export function formatGantt(trace: ChromeTrace, width = 60): string {
  const names = new Map<number, string>();
  const sort = new Map<number, number>();
  for (const e of trace.traceEvents) {
    if (e.ph === 'M' && e.name === 'process_name') names.set(e.pid, String((e.args as { name?: unknown })?.name ?? e.pid));
    if (e.ph === 'M' && e.name === 'process_sort_index') sort.set(e.pid, Number((e.args as { sort_index?: unknown })?.sort_index ?? 0));
  }
  const spans = trace.traceEvents.filter((e) => e.ph === 'X');
  const marks = trace.traceEvents.filter((e) => e.ph === 'i');
  // A reduce, not Math.max(...): a trace of 64 processes of 2000 phases each is too many arguments.
  const end = [...spans.map((e) => e.ts + (e.dur ?? 0)), ...marks.map((e) => e.ts)].reduce((a, b) => Math.max(a, b), 1);
  const col = (ts: number) => Math.min(width - 1, Math.max(0, Math.floor((ts / end) * width)));
  const pids = [...names.keys()].sort((a, b) => (sort.get(a) ?? 0) - (sort.get(b) ?? 0) || a - b);
  const label = Math.max(8, ...pids.map((p) => (names.get(p) as string).length));
  const phase = Math.min(36, Math.max(5, ...spans.map((e) => e.name.length)));
  const s = trace.otherData;
  const head = [
    `start-up timeline of primary pid ${s.primaryPid}, started ${s.startedAt}: ${s.clusterReadyMs === null ? 'the cluster never became ready' : `${s.target} worker(s) ready in ${seconds(s.clusterReadyMs * 1000)}`}`,
    `recording cost: primary ${s.recordingCostMs.primary.toFixed(2)} ms, children ${s.recordingCostMs.children.toFixed(2)} ms`,
    '',
  ];
  const axis = Array.from({ length: width }, (_, i) => (i % 10 === 0 ? '|' : ' ')).join('');
  const ticks = Array.from({ length: Math.ceil(width / 10) }, (_, i) => seconds((i * 10 * end) / width).padEnd(10))
    .join('')
    .slice(0, width + 8);
  const rows = [`${''.padEnd(label)}  ${''.padEnd(phase)}  ${ticks}`, `${''.padEnd(label)}  ${''.padEnd(phase)}  ${axis}`];
  for (const pid of pids) {
    const own = spans.filter((e) => e.pid === pid).sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
    // "forked" is the fork span's start: the chart leaves it out.
    const ownMarks = marks.filter((e) => e.pid === pid && e.name !== 'forked');
    let first = true;
    for (const e of own) {
      const line = Array.from({ length: width }, () => ' ');
      const from = col(e.ts);
      const to = Math.max(from, col(e.ts + (e.dur ?? 0)));
      for (let i = from; i <= to; i++) line[i] = BAR[e.cat ?? ''] ?? '#';
      // A step's lock wait shows inside the step's own row, where it lasts a column or more.
      let waited = 0;
      if (e.cat === 'step') {
        for (const w of own.filter((o) => o.cat === 'lock' && o.ts >= e.ts && o.ts + (o.dur ?? 0) <= e.ts + (e.dur ?? 0))) {
          waited += w.dur ?? 0;
          if ((w.dur ?? 0) * width >= end) for (let i = col(w.ts); i < col(w.ts + (w.dur ?? 0)); i++) line[i] = BAR.lock;
        }
      } else if (e.cat === 'lock' && own.some((o) => o.cat === 'step' && e.ts >= o.ts && e.ts + (e.dur ?? 0) <= o.ts + (o.dur ?? 0)))
        continue;
      rows.push(
        `${(first ? (names.get(pid) as string) : '').padEnd(label)}  ${e.name.slice(0, phase).padEnd(phase)}  ${line.join('')}  ${seconds(e.dur ?? 0)}${waited >= LOCK_WAIT_SHOWN_US ? ` (lock wait ${seconds(waited)})` : ''}`,
      );
      first = false;
    }
    for (const m of ownMarks) {
      rows.push(
        `${(first ? (names.get(pid) as string) : '').padEnd(label)}  ${m.name.slice(0, phase).padEnd(phase)}  ${''.padEnd(col(m.ts))}|${''.padEnd(width - col(m.ts) - 1)}  at ${seconds(m.ts)}`,
      );
      first = false;
    }
  }
  const legend = 'legend: · fork  ░ node boot  ▒ app build  - hand-over wait  █ step  ~ lock wait  ▓ serve  = cluster start  | mark';
  return [...head, ...rows, '', legend].join('\n');
}
