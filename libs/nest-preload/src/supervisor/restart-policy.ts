/**
 * When to replace a worker that ended, and when to give up: numbers in, decisions out. Pure, so
 * every rule is unit-tested without a process or a timer.
 *
 * The rules (PM2's `min_uptime`, gunicorn's boot-error halt, systemd's per-unit start limit):
 * - a worker that served at least `minUptimeMs` was stable: its index starts over (next delay is
 *   the base delay, its unstable count is 0);
 * - an exit before ready, or within `minUptimeMs` of ready, is *unstable*: it counts toward the
 *   cap of its own index, and the delay doubles per unstable exit, capped at `maxDelayMs`;
 * - an index is *crash-looping* when more than `maxRestarts` unstable exits fall within `windowMs`;
 *   the cluster halts for a crash loop only when every index is crash-looping — while one worker
 *   serves, the others go on being retried at the capped delay;
 * - a worker ended by a signal from elsewhere (SIGKILL, SIGTERM) is never a boot error; one that
 *   itself failed to boot during the cluster's first start is — it reported the error, exited on
 *   its own, or crashed (SIGABRT, SIGSEGV…) — see {@link bootErrorHalts}.
 */
export interface RestartPolicyOptions {
  restartDelayMs: number;
  maxRestartDelayMs: number;
  maxRestarts: number;
  restartWindowMs: number;
  minUptimeMs: number;
}

/** How one worker ended, as the policy sees it. */
export interface WorkerEnd {
  index: number;
  /** When it ended. */
  at: number;
  /** When it became ready, or null if it never did. */
  readyAt: number | null;
  /** Why, in words (the exit, or the error it reported), for the halt message. */
  reason: string;
}

export type RestartDecision =
  { action: 'respawn'; delayMs: number; unstable: boolean; unstableCount: number } | { action: 'halt'; message: string };

interface IndexRecord {
  unstable: number[];
  lastReason: string;
  since: number;
}

export class RestartPolicy {
  private readonly records = new Map<number, IndexRecord>();

  constructor(private readonly options: RestartPolicyOptions) {}

  /** Whether an exit `end` counts as unstable. */
  isUnstable(end: WorkerEnd): boolean {
    return end.readyAt === null || end.at - end.readyAt < this.options.minUptimeMs;
  }

  /**
   * Records the end of a worker and decides. `indices` are the indices the cluster should run now
   * (0..target-1); `serving` how many other workers are ready and serving.
   */
  onEnd(end: WorkerEnd, indices: number, serving: number): RestartDecision {
    const { restartDelayMs, maxRestartDelayMs, maxRestarts, restartWindowMs } = this.options;
    const unstable = this.isUnstable(end);
    let record = this.records.get(end.index);
    if (!unstable) {
      this.records.delete(end.index);
      return { action: 'respawn', delayMs: restartDelayMs, unstable: false, unstableCount: 0 };
    }
    if (!record) {
      record = { unstable: [], lastReason: end.reason, since: end.at };
      this.records.set(end.index, record);
    }
    record.unstable = [...record.unstable.filter((t) => end.at - t < restartWindowMs), end.at];
    record.lastReason = end.reason;
    const count = record.unstable.length;
    const delayMs = Math.min(restartDelayMs * 2 ** (count - 1), maxRestartDelayMs);
    if (serving === 0 && this.allLooping(indices, end.at)) {
      const since = Math.min(...[...this.records.entries()].filter(([i]) => i < indices).map(([, r]) => r.since));
      return {
        action: 'halt',
        message:
          `every worker index (${indices}) crashed more than maxRestarts (${maxRestarts}) times within restartWindowMs (${restartWindowMs} ms), ` +
          `each within minUptimeMs (${this.options.minUptimeMs} ms) of starting, and none is serving; crashing since ${Math.round(end.at - since)} ms ago; ` +
          `last: ${record.lastReason}`,
      };
    }
    return { action: 'respawn', delayMs, unstable: true, unstableCount: count };
  }

  /** A worker of `index` served long enough: its index starts over. */
  stable(index: number): void {
    this.records.delete(index);
  }

  /** Forgets indices at or above `target` (scaled down). */
  forgetFrom(target: number): void {
    for (const index of [...this.records.keys()]) if (index >= target) this.records.delete(index);
  }

  /** Unstable exits of `index` within the window, for status. */
  unstableCount(index: number, now: number): number {
    return this.records.get(index)?.unstable.filter((t) => now - t < this.options.restartWindowMs).length ?? 0;
  }

  private allLooping(indices: number, now: number): boolean {
    for (let i = 0; i < indices; i++) if (this.unstableCount(i, now) <= this.options.maxRestarts) return false;
    return true;
  }
}

/**
 * Whether a worker that ended before it was ever ready halts the cluster as a boot error: only
 * while the cluster has never been ready (its first start), and only for a worker that itself
 * failed to boot (it reported the error, or exited on its own) or that hung in its boot past
 * `bootTimeoutMs`. A worker ended by a signal from anyone else is respawned. After the first
 * start a failing replacement is retried under the {@link RestartPolicy}.
 */
export function bootErrorHalts(
  end: { readyAt: number | null; signal: NodeJS.Signals | null; killedBy: string | null },
  clusterWasReady: boolean,
): boolean {
  if (end.readyAt !== null || clusterWasReady) return false;
  if (end.killedBy !== null) return end.killedBy === BOOT_TIMEOUT;
  return end.signal === null || SELF_INFLICTED.has(end.signal);
}

/** Signals a process raises on itself when it crashes (an abort, a native fault): it failed, nobody killed it. */
const SELF_INFLICTED = new Set<NodeJS.Signals>(['SIGABRT', 'SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGTRAP']);

/** The `killedBy` of a worker the supervisor killed because it was not ready within `bootTimeoutMs`. */
export const BOOT_TIMEOUT = 'boot timeout';
