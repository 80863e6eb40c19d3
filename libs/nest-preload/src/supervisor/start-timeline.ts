import { MAX_SPANS, isSpan, type Span } from '../timeline/span';
import { buildTrace, type ChromeTrace, TRACE_VERSION, type TraceTrack } from '../timeline/trace';
import type { TimelineMessage } from '../ipc/messages';

/**
 * Tracks kept once exited processes can be dropped: the first start's processes, and the latest of
 * those forked later (replacements, reloads). Live processes are always kept.
 */
const MAX_TRACKS = 64;

interface Track extends TraceTrack {
  seq: number;
  done: boolean;
  reported: boolean;
  lockWaitMs: number | null;
}

/**
 * The primary's side of the start-up timeline: when it forked each process and what each reported
 * of its phases, on one epoch-ms clock; the trace is built from it on demand. Bounded: at most
 * {@link MAX_TRACKS} processes (exited ones go first), each at most `MAX_SPANS` spans.
 * @internal
 */
export class StartTimeline {
  private readonly tracks = new Map<number, Track>();
  private readonly primary: TraceTrack;
  private childCostMs = 0;
  /**
   * What recording has cost the primary so far: taking the children's reports (on the start's
   * path) and building and writing the trace (once the cluster is ready, and after).
   */
  primaryCostMs = 0;
  private readyAt: number | null = null;

  constructor(
    private readonly origin: number,
    private readonly primaryPid: number,
    private readonly target: () => number,
  ) {
    this.primary = { pid: primaryPid, label: `primary (pid ${primaryPid})`, sort: 0, spans: [], marks: [] };
  }

  /** A process was forked at `at`. */
  forked(seq: number, pid: number | undefined, label: string, sort: number, at: number): void {
    this.tracks.set(seq, {
      seq,
      pid: pid ?? -seq,
      label: `${label} (pid ${pid ?? '?'})`,
      sort,
      spans: [],
      marks: [{ name: 'forked', at }],
      done: false,
      reported: false,
      lockWaitMs: null,
    });
    this.trim();
  }

  /**
   * A process sent its phases; a malformed report is dropped and false returned. `date` and `epoch`
   * are the primary's `Date.now()` and spans' clock read together now: with the child's pair they
   * put its spans on the primary's clock (see `TimelineMessage.clock`).
   */
  reported(seq: number, message: TimelineMessage, date = Date.now(), epoch = date): boolean {
    const t0 = performance.now();
    try {
      return this.take(seq, message, date - epoch);
    } finally {
      this.primaryCostMs += performance.now() - t0;
    }
  }

  private take(seq: number, message: TimelineMessage, primaryOffset: number): boolean {
    const track = this.tracks.get(seq);
    if (!track || track.reported) return true;
    if (
      !Number.isFinite(message.origin) ||
      !Array.isArray(message.spans) ||
      message.spans.length > MAX_SPANS ||
      !message.spans.every(isSpan) ||
      !Number.isFinite(message.costMs) ||
      message.costMs < 0
    )
      return false;
    const clock = message.clock;
    if (
      clock !== undefined &&
      !(typeof clock === 'object' && clock !== null && Number.isFinite(clock.epoch) && Number.isFinite(clock.date))
    )
      return false;
    track.reported = true;
    // The child's clock and the primary's agree to within Date.now()'s millisecond, unless one drifted.
    const drift = clock ? clock.date - clock.epoch - primaryOffset : 0;
    const shift = Math.abs(drift) > 2 ? drift : 0;
    // Only the fields of a span are kept, on the primary's clock, never before the primary started.
    const spans: Span[] = message.spans.map((s) => {
      const start = Math.max(this.origin, s.start + shift);
      return { name: s.name, kind: s.kind, start, end: Math.max(start, s.end + shift), ...(s.args ? { args: { ...s.args } } : {}) };
    });
    const origin = message.origin + shift;
    const forkedAt = track.marks[0].at;
    // From the primary's fork() to the child's own time origin: what starting a process costs.
    if (origin >= forkedAt) track.spans.push({ name: 'fork', kind: 'fork', start: forkedAt, end: origin });
    track.spans.push(...spans);
    const waits = spans.filter((s) => s.kind === 'lock');
    track.lockWaitMs = Math.round(waits.reduce((sum, s) => sum + (s.end - s.start), 0));
    this.childCostMs += message.costMs;
    return true;
  }

  /** Something happened to a process (ready, handed over, exited …). */
  mark(seq: number, name: string, at: number, args?: Record<string, unknown>): void {
    const track = this.tracks.get(seq);
    if (!track) return;
    if (track.marks.length < 16) track.marks.push({ name, at, ...(args ? { args } : {}) });
    if (name.startsWith('exit')) {
      track.done = true;
      this.trim();
    }
  }

  /** A phase of the primary's own (the preload as it saw it). */
  primarySpan(name: string, start: number, end: number): void {
    if (this.primary.spans.length < MAX_SPANS) this.primary.spans.push({ name, kind: 'cluster', start, end });
  }

  /** Every worker was ready at `at`. */
  clusterReady(at: number): void {
    if (this.readyAt !== null) return;
    this.readyAt = at;
    this.primary.spans.push({ name: 'cluster start', kind: 'cluster', start: this.origin, end: at });
    this.primary.marks.push({ name: 'cluster ready', at });
  }

  /** How long a process waited for start-up locks in all, once it reported; null before. */
  lockWaitMs(seq: number): number | null {
    return this.tracks.get(seq)?.lockWaitMs ?? null;
  }

  /** The trace as it stands. */
  trace(): ChromeTrace {
    const tracks = [this.primary, ...[...this.tracks.values()].sort((a, b) => a.seq - b.seq)];
    return buildTrace(this.origin, tracks, {
      version: TRACE_VERSION,
      primaryPid: this.primaryPid,
      startedAt: new Date(this.origin).toISOString(),
      target: this.target(),
      clusterReadyMs: this.readyAt === null ? null : Math.round(this.readyAt - this.origin),
      recordingCostMs: { primary: Math.round(this.primaryCostMs * 1000) / 1000, children: Math.round(this.childCostMs * 1000) / 1000 },
    });
  }

  /** Keeps at most MAX_TRACKS: the oldest exited processes that were forked after the first start go first. */
  private trim(): void {
    if (this.tracks.size <= MAX_TRACKS) return;
    for (const track of this.tracks.values()) {
      if (this.tracks.size <= MAX_TRACKS) return;
      if (track.done && this.readyAt !== null && track.marks[0].at > this.readyAt) this.tracks.delete(track.seq);
    }
    for (const track of this.tracks.values()) {
      if (this.tracks.size <= MAX_TRACKS) return;
      if (track.done) this.tracks.delete(track.seq);
    }
  }
}
