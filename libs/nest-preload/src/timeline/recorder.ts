import { PRELOAD_ENV } from '../preload.constants';
import { TIMELINE, type TimelineMessage } from '../ipc/messages';
import { MAX_SPANS, MAX_SPAN_NAME, type Span, type SpanKind } from './span';
import { parseBooleanWord } from '../env-boolean';
import { primaryLink, type PrimaryLink } from '../ipc/primary-link';

/** Epoch milliseconds on the clock every process of the host shares. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/**
 * The phases of this process's start, recorded where they happen (app build, each step and its
 * lock wait, the hand-over wait, `serve`) and sent to the primary once, when the start ends.
 * It costs a clock read and an array push per phase; its own time is measured and reported, so
 * the overhead can be checked rather than assumed. Recording is on only in a child of a cluster
 * whose `timeline` option is on. @internal
 */
export class StartRecorder {
  private readonly spans: Span[] = [];
  private costMs = 0;
  private sent = false;

  constructor(readonly enabled = parseBooleanWord(process.env[PRELOAD_ENV.recordTimeline]) === true) {}

  now(): number {
    return epochNow();
  }

  /** Records a phase that ran from `start` to `end` (epoch ms). */
  add(name: string, kind: SpanKind, start: number, end: number, args?: Span['args']): void {
    if (!this.enabled || this.sent) return;
    const t0 = performance.now();
    if (this.spans.length < MAX_SPANS)
      this.spans.push({ name: name.slice(0, MAX_SPAN_NAME), kind, start, end: Math.max(start, end), ...(args ? { args } : {}) });
    this.costMs += performance.now() - t0;
  }

  /** Runs `fn` and records it as one phase, also when it throws (then with `failed: true`). */
  async time<T>(name: string, kind: SpanKind, fn: () => Promise<T> | T, args?: Span['args']): Promise<T> {
    if (!this.enabled) return fn();
    const start = this.now();
    try {
      const value = await fn();
      this.add(name, kind, start, this.now(), args);
      return value;
    } catch (error) {
      this.add(name, kind, start, this.now(), { ...args, failed: true });
      throw error;
    }
  }

  /** Node's own start and the entry's imports, up to this call (from the process's time origin). */
  booted(): void {
    this.add('node boot + imports', 'boot', performance.timeOrigin, this.now());
  }

  /**
   * Sends what was recorded to the primary, once (the first call wins; later phases are not
   * recorded). Messages on one channel arrive in order, so a `READY` sent after this finds the
   * timeline already there.
   */
  send(link: Pick<PrimaryLink, 'send' | 'connected'> | null = primaryLink()): void {
    if (!this.enabled || this.sent || !link?.connected) return;
    this.sent = true;
    const message: TimelineMessage = {
      type: TIMELINE,
      origin: performance.timeOrigin,
      spans: this.spans,
      costMs: Math.round(this.costMs * 1000) / 1000,
      clock: { epoch: epochNow(), date: Date.now() },
    };
    void link.send(message);
  }
}

/** This process's recorder. */
export const startRecorder = new StartRecorder();
