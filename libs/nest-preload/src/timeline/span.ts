/**
 * One phase of a process's start, as a child records it and the primary collects it. Times are
 * epoch milliseconds with sub-millisecond precision (`performance.timeOrigin + performance.now()`),
 * so the spans of every process on the host share one clock.
 */
export interface Span {
  name: string;
  kind: SpanKind;
  start: number;
  end: number;
  args?: Record<string, string | number | boolean>;
}

/**
 * `boot` Node and the entry's imports up to `runCluster`; `app` importing and building the app;
 * `handover` waiting for the preload's hand-over; `step` a preload step; `lock` waiting for a
 * start-up lock (inside its step); `teardown` closing the preloader's app (`preloader: 'exits'`);
 * `serve` the user's `serve` (listen).
 */
export type SpanKind = 'boot' | 'app' | 'handover' | 'step' | 'lock' | 'teardown' | 'serve';

export const SPAN_KINDS: readonly SpanKind[] = ['boot', 'app', 'handover', 'step', 'lock', 'teardown', 'serve'];

/** At most this many spans per process are recorded and accepted (a plan has at most a few hundred steps). */
export const MAX_SPANS = 2_000;
/** A span's name is cut to this many characters. */
export const MAX_SPAN_NAME = 200;

/** Whether `value` is a span as a child may send it (checked by the primary before it is kept). */
export function isSpan(value: unknown): value is Span {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Record<string, unknown>;
  if (typeof s.name !== 'string' || s.name.length === 0 || s.name.length > MAX_SPAN_NAME) return false;
  if (!SPAN_KINDS.includes(s.kind as SpanKind)) return false;
  if (typeof s.start !== 'number' || typeof s.end !== 'number' || !Number.isFinite(s.start) || !Number.isFinite(s.end) || s.end < s.start)
    return false;
  if (s.args === undefined) return true;
  if (typeof s.args !== 'object' || s.args === null || Array.isArray(s.args)) return false;
  const entries = Object.entries(s.args);
  return (
    entries.length <= 16 &&
    entries.every(
      ([k, v]) =>
        k.length <= 64 && (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length <= MAX_SPAN_NAME)),
    )
  );
}
