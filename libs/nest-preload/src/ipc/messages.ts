import { IPC_PREFIX } from '../preload.constants';

/** Worker → primary: `listen()` resolved; this worker serves. */
export const READY = `${IPC_PREFIX}ready` as const;
/** Preloader → primary: the preload finished (handed over) or was abandoned. */
export const PRELOAD_DONE = `${IPC_PREFIX}preload-done` as const;
/** Preloader → primary: its app is built and its steps start now (pipelined start forks the workers then). */
export const STEPS_STARTED = `${IPC_PREFIX}steps-started` as const;
/** Worker → primary (pipelined start): my app is built; tell me the hand-over when there is one. */
export const AWAIT_HANDOVER = `${IPC_PREFIX}await-handover` as const;
/** Primary → worker (pipelined start): the preload's outcome. */
export const HANDOVER = `${IPC_PREFIX}handover` as const;
/** Primary → worker: stop accepting, finish in-flight requests, exit. */
export const SHUTDOWN = `${IPC_PREFIX}shutdown` as const;

export interface ReadyMessage {
  type: typeof READY;
  pid: number;
  preloaded: boolean;
  /** A preloaded worker: the steps it ran itself (those the preloader did not complete), and how each ended. */
  ran?: RanStep[];
}
/** A step a worker ran itself, and how it ended. */
export interface RanStep {
  name: string;
  status: 'complete' | 'failed' | 'skipped';
}
export interface PreloadDoneMessage {
  type: typeof PRELOAD_DONE;
  ok: boolean;
  manifestPath: string | null;
  reason: string | null;
  /** Handles still open when the preloader was about to exit ("ghosts"), by resource name. */
  lingering: string[];
  /** The app itself could not be created (no step ran): every worker would fail the same way. */
  appFailed?: boolean;
  /** A serving preloader's RSS in MB before and after its steps: how much they left in its heap. */
  rssBeforeStepsMb?: number;
  rssAfterStepsMb?: number;
}
/** `cut`: the drain ran past `drainTimeoutMs`; close the connections still open now. */
export interface ShutdownMessage {
  type: typeof SHUTDOWN;
  cut?: boolean;
}
export interface AwaitHandoverMessage {
  type: typeof AWAIT_HANDOVER;
}
export type HandoverMessage =
  { type: typeof HANDOVER; ok: true; manifestPath: string; generation: string } | { type: typeof HANDOVER; ok: false; reason: string };

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}

/** Whether `value` is a message of this protocol (an object whose `type` has our prefix); anything else on the channel is someone else's. */
export const isOurs = (value: unknown): value is { type: string } =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { type?: unknown }).type === 'string' &&
  (value as { type: string }).type.startsWith(IPC_PREFIX);

/** Worker → primary, every heartbeat interval, from its event loop: alive, and its counters. */
export const HEARTBEAT = `${IPC_PREFIX}heartbeat` as const;
export interface HeartbeatMessage {
  type: typeof HEARTBEAT;
  requests: number;
  rssMb: number;
}

/** Primary → worker: whether it is the leader (the one worker that runs run-once jobs). */
export const LEADER = `${IPC_PREFIX}leader` as const;
export interface LeaderMessage {
  type: typeof LEADER;
  leader: boolean;
}

/** Worker → primary: send me the cluster view; primary → worker: here it is. */
export const CLUSTER_STATUS_REQUEST = `${IPC_PREFIX}cluster-status-request` as const;
export const CLUSTER_STATUS = `${IPC_PREFIX}cluster-status` as const;
export interface ClusterStatusRequest {
  type: typeof CLUSTER_STATUS_REQUEST;
  id: number;
}
export interface ClusterStatusMessage {
  type: typeof CLUSTER_STATUS;
  id: number;
  view: ClusterView;
}

/** What only the primary knows: the workers, restarts, the generation, the preload's duration. */
export interface ClusterView {
  state: string;
  workers: Array<{ index: number; pid: number | null; ready: boolean; leader: boolean; requests: number; rssMb: number | null }>;
  ready: number;
  target: number;
  restarts: number;
  generation: string | null;
  preloadDurationMs: number | null;
}

/** Worker → primary: it is stopping on its own (a signal it received directly, its primary gone). */
export const STOPPING = `${IPC_PREFIX}stopping` as const;
export interface StoppingMessage {
  type: typeof STOPPING;
  reason: string;
}

/**
 * Worker → primary: its server is closed. node:cluster's primary hands each connection to a worker;
 * one handed to a worker that exits before reading it is never answered. The primary reads this
 * after the worker's close (same channel, in order) and answers; a connection handed over before
 * that answer reaches the worker first, which hands it back. So the worker exits only once answered.
 */
export const SERVER_CLOSED = `${IPC_PREFIX}server-closed` as const;
/** Primary → worker: the answer to `SERVER_CLOSED`: no connection is on its way to this worker any more. */
export const SERVER_CLOSED_ACK = `${IPC_PREFIX}server-closed-ack` as const;

/** Worker → primary: creating or serving the app failed; it exits with the boot-error code next. */
export const BOOT_FAILED = `${IPC_PREFIX}boot-failed` as const;
export interface BootFailedMessage {
  type: typeof BOOT_FAILED;
  reason: string;
}

/** Worker → primary: a scrape of `/metrics` wants every serving process's metrics, within `timeoutMs`. */
export const METRICS_REQUEST = `${IPC_PREFIX}metrics-request` as const;
export interface MetricsRequestMessage {
  type: typeof METRICS_REQUEST;
  id: number;
  timeoutMs: number;
}
/** Primary → each serving process: send your registry's metrics (prom-client's JSON) for collection `id`. */
export const METRICS_COLLECT = `${IPC_PREFIX}metrics-collect` as const;
export interface MetricsCollectMessage {
  type: typeof METRICS_COLLECT;
  id: number;
}
/**
 * Serving process → primary: its metrics for collection `id`, `registry.getMetricsAsJSON()` as one
 * JSON string; `id` 0 is the last report of a process whose app is closing (kept as its last values).
 * A string, not objects: the primary holds and relays it as one flat value instead of a graph of
 * metric objects.
 */
export const METRICS_REPORT = `${IPC_PREFIX}metrics-report` as const;
export interface MetricsReportMessage {
  type: typeof METRICS_REPORT;
  id: number;
  metrics: string;
}
/**
 * Primary → the asking worker: what each serving process reported (`fresh: false` for one that did
 * not answer in time: its last report, so its counters do not drop), the counters of processes that
 * are gone (summed, so they never go down), and the cluster as `nest-preload status` shows it.
 */
export const METRICS_RESULT = `${IPC_PREFIX}metrics-result` as const;
export interface MetricsResultMessage {
  type: typeof METRICS_RESULT;
  id: number;
  /** Each process's report as it sent it (a JSON string). */
  reports: Array<{ index: number; pid: number | null; fresh: boolean; metrics: string }>;
  /** The carried counters of the processes that are gone, as a JSON string. */
  retired: string;
  status: import('../control/control.protocol').ClusterStatus;
}

/**
 * Child → primary, once, when its start ends (ready, failed to boot, or — a preloader that exits —
 * handed over): the phases it recorded, for the start-up timeline. `origin` is its
 * `performance.timeOrigin` (when the process started); `costMs` the time recording took.
 */
export const TIMELINE = `${IPC_PREFIX}timeline` as const;
export interface TimelineMessage {
  type: typeof TIMELINE;
  origin: number;
  spans: import('../timeline/span').Span[];
  costMs: number;
  /**
   * Its clocks read together as it sent this: `epoch` on the spans' clock, `date` from `Date.now()`.
   * A primary up for days lets its own spans' clock drift from the wall clock; this puts the child's
   * spans on the primary's.
   */
  clock?: { epoch: number; date: number };
}

/** Every message a child sends the primary, by type: what the primary's dispatch table is keyed by. */
export interface ChildMessages {
  [READY]: ReadyMessage;
  [PRELOAD_DONE]: PreloadDoneMessage;
  [STEPS_STARTED]: { type: typeof STEPS_STARTED };
  [AWAIT_HANDOVER]: AwaitHandoverMessage;
  [HEARTBEAT]: HeartbeatMessage;
  [CLUSTER_STATUS_REQUEST]: ClusterStatusRequest;
  [STOPPING]: StoppingMessage;
  [BOOT_FAILED]: BootFailedMessage;
  [SERVER_CLOSED]: { type: typeof SERVER_CLOSED };
  [METRICS_REQUEST]: MetricsRequestMessage;
  [METRICS_REPORT]: MetricsReportMessage;
  [TIMELINE]: TimelineMessage;
}

/** Every message the primary sends a child, by type: what the children's dispatch tables are keyed by. */
export interface PrimaryMessages {
  [HANDOVER]: HandoverMessage;
  [SHUTDOWN]: ShutdownMessage;
  [LEADER]: LeaderMessage;
  [SERVER_CLOSED_ACK]: { type: typeof SERVER_CLOSED_ACK };
  [CLUSTER_STATUS]: ClusterStatusMessage;
  [METRICS_COLLECT]: MetricsCollectMessage;
  [METRICS_RESULT]: MetricsResultMessage;
}

/** A metrics report longer than this (a runaway label set) is refused. */
export const MAX_METRICS_CHARS = 32 * 2 ** 20;

/** A finite number from 0 to `max`. */
export const count = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= max;
const RAN_STATUSES = new Set(['complete', 'failed', 'skipped']);
/** A READY's `ran`: at most 1000 steps, each a bounded name and an ended status. */
const validRan = (ran: unknown): boolean =>
  Array.isArray(ran) &&
  ran.length <= 1_000 &&
  ran.every((r) => typeof r?.name === 'string' && r.name.length <= 256 && RAN_STATUSES.has(r?.status));

/**
 * The shape of each message a serving child may send the primary, with every field bounded: a
 * child that sends garbage (or 100 MB) is answered with a warning, never trusted. The preloader's
 * own `PRELOAD_DONE` and `STEPS_STARTED` are taken only from the current preloader, before this.
 */
export function checkChildMessage(message: { type: string }): boolean {
  const msg = message as unknown as Record<string, unknown>;
  switch (msg.type) {
    case READY:
      return count(msg.pid, 2 ** 31) && (msg.ran === undefined || validRan(msg.ran));
    case AWAIT_HANDOVER:
    case SERVER_CLOSED:
      return true;
    case HEARTBEAT:
      return count(msg.requests, Number.MAX_SAFE_INTEGER) && count(msg.rssMb, 2 ** 24);
    case CLUSTER_STATUS_REQUEST:
      return Number.isInteger(msg.id);
    case METRICS_REQUEST:
      return Number.isInteger(msg.id) && count(msg.timeoutMs, 60_000);
    case METRICS_REPORT:
      return Number.isInteger(msg.id) && typeof msg.metrics === 'string' && msg.metrics.length <= MAX_METRICS_CHARS;
    case STOPPING:
      return typeof msg.reason === 'string' && msg.reason.length <= 64;
    case BOOT_FAILED:
      return typeof msg.reason === 'string' && msg.reason.length <= 4096;
    case TIMELINE:
      return typeof msg.origin === 'number' && Array.isArray(msg.spans) && typeof msg.costMs === 'number';
    default:
      return false;
  }
}
