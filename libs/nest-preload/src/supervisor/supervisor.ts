import nodeModule from 'node:module';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { EXIT_CODES, PRELOAD_ENV } from '../preload.constants';
import {
  AWAIT_HANDOVER,
  BOOT_FAILED,
  CLUSTER_STATUS,
  CLUSTER_STATUS_REQUEST,
  SERVER_CLOSED,
  SERVER_CLOSED_ACK,
  type ClusterView,
  HANDOVER,
  type HandoverMessage,
  HEARTBEAT,
  type HeartbeatMessage,
  LEADER,
  PRELOAD_DONE,
  type PreloadDoneMessage,
  METRICS_COLLECT,
  METRICS_REPORT,
  METRICS_REQUEST,
  METRICS_RESULT,
  type MetricsCollectMessage,
  type MetricsReportMessage,
  type MetricsRequestMessage,
  type MetricsResultMessage,
  type RanStep,
  READY,
  type ReadyMessage,
  SHUTDOWN,
  STEPS_STARTED,
  STOPPING,
  TIMELINE,
  type TimelineMessage,
  checkChildMessage,
  type ChildMessages,
  count,
} from '../ipc/messages';
import { dispatch } from '../ipc/dispatch';
import type { ResolvedSupervisorOptions } from './cluster.options';
import { ControlServer } from '../control/control-server';
import type { ClusterStatus, ControlRequest, WorkerStatus } from '../control/control.protocol';
import { carryCounters, type MetricJson } from './metrics-carry';
import { StartTimeline } from './start-timeline';
import { nodeHost } from './node-host';
import { BOOT_TIMEOUT, bootErrorHalts, RestartPolicy } from './restart-policy';
import type { SupervisorHooks } from './supervisor.hooks';
import type { ChildHandle, ClusterPort, HostPort, ProcessPort, StepLine, SupervisorLogger, TimerPort } from './supervisor.ports';

/** How long a worker told to stop at once (hung, drain timeout) gets before SIGKILL. */
const KILL_GRACE_MS = 2_000;
/** The id of the report a process sends as its app closes (collections are numbered from 1). */
const FINAL_METRICS_REPORT = 0;
/** Messages after which there is nothing to reconcile: a scrape's and a status request's, a timeline, a server-close confirmation. */
const OBSERVING = new Set<string>([METRICS_REQUEST, METRICS_REPORT, CLUSTER_STATUS_REQUEST, TIMELINE, SERVER_CLOSED]);
/** After the cluster is ready, changes to the timeline (a replacement, a reload) are written at most this often. */
const TIMELINE_WRITE_MS = 500;

/** The supervisor's lifecycle. */
export type SupervisorState = 'starting' | 'preloading' | 'running' | 'stopping' | 'stopped';

type SupervisorEvent =
  | { type: 'signal'; signal: NodeJS.Signals }
  | { type: 'message'; proc: Proc; message: unknown }
  | { type: 'exit'; proc: Proc; code: number | null; signal: NodeJS.Signals | null }
  | { type: 'timer'; fire: () => void }
  | { type: 'control'; request: ControlRequest; respond: (result: unknown, error?: string) => void };

/** One preload's output: its own run dir and temp root. It stays until nothing uses it. */
interface Generation {
  id: string;
  dir: string;
  runDir: string;
  tempRoot: string;
  /** Set once the preloader handed over. */
  manifestPath: string | null;
}

/** A preload in progress. */
interface PreloadRun {
  generation: Generation;
  preloader: Proc;
  startedAt: number;
  timer: unknown;
  stepsStarted: boolean;
  /** For a reload (its replacements wait for it), or the first start. */
  forReload: boolean;
}

type Phase = 'booting' | 'awaiting' | 'ready' | 'draining';

/**
 * One child process: a worker, or a preloader (which serves as its index once it has handed
 * over, unless `preloader: 'exits'`). Everything about its life is here; the table is keyed by pid.
 */
interface Proc {
  seq: number;
  index: number;
  child: ChildHandle;
  /** A preloader in `exits` mode never serves and holds no index. */
  serves: boolean;
  isPreloader: boolean;
  phase: Phase;
  /** The reload epoch it was started for: older than the reload's is stale. */
  epoch: number;
  /** Why it is to be replaced on its own (maxRequests, RSS, a heavy preloader), or null. */
  recycle: string | null;
  /** The generation it started from, or writes. */
  generation: Generation | null;
  /** An awaiting worker: the preload it waits on. */
  waitsFor: Generation | null;
  bootTimer: unknown;
  /** Boot time spent before it began waiting for the hand-over. */
  bootSpentMs: number;
  bootResumedAt: number;
  drainTimer: unknown;
  killTimer: unknown;
  /** Fires `minUptimeMs` after ready: the worker was stable. */
  stableTimer: unknown;
  /** Why the supervisor itself killed it, for the exit line; null if it did not. */
  killedBy: string | null;
  /** What it reported when it failed to boot. */
  bootError: string | null;
  lastBeat: number;
  requests: number;
  rssMb: number | null;
  /** A preloaded worker: the steps it ran itself, as it reported when ready. */
  ran: RanStep[];
  /**
   * Its last metrics report (prom-client's JSON, opaque here), or null. Held in a Buffer, off the
   * JS heap, so that reports kept from scrape to scrape do not accumulate in the primary's heap.
   */
  lastMetrics: Buffer | null;
  /** It sent its last report (id 0, as its app closed): later ones are older and not taken. */
  finalMetrics: boolean;
  /** `maxRequests` plus this worker's jitter. */
  requestLimit: number;
  /** A signal it received directly (not from the supervisor). */
  stoppedOn: string | null;
  spawnedAt: number;
  readyAt: number | null;
  /** Since when it waits for the hand-over (pipelined start), and how long it waited once told. */
  awaitingSince: number | null;
  handoverWaitMs: number | null;
  /** Why it drains, for the exit line. */
  drainReason: string | null;
  /** A serving preloader: its RSS before and after its steps, as it reported. */
  stepsRssMb: { before: number; after: number } | null;
}

/** A rolling reload: every serving worker of an older epoch is replaced, one index at a time. */
interface Reload {
  epoch: number;
  withPreload: boolean;
  startedAt: number;
}

/**
 * The primary. Signal handlers, child events, timers and control requests only enqueue; one
 * dispatcher handles each event; after every event `reconcile()` compares the desired state
 * (target, reload epoch, recycles, leader) with the worker table and does what is missing —
 * level-triggered, like gunicorn's `manage_workers()` at the end of every loop turn. It never
 * loads the app.
 */
export class Supervisor {
  private state: SupervisorState = 'starting';
  private readonly queue: SupervisorEvent[] = [];
  private dispatching = false;
  private readonly procs = new Map<number, Proc>();
  private seq = 0;
  private readonly policy: RestartPolicy;
  /** Pending respawns by index. */
  private readonly respawns = new Map<number, unknown>();
  /** A replacement failed before it served: no new one for this index until its timer fires. */
  private readonly holds = new Map<number, unknown>();
  private preload: PreloadRun | null = null;
  /** The generation new workers start from; null when preload is off or was abandoned. */
  private current: Generation | null = null;
  private abandonReason: string | null = null;
  private reload: Reload | null = null;
  /** A reload asked for while another ran or before the cluster was ready; `withPreload` kept. */
  private queuedReload: { withPreload: boolean } | null = null;
  private epoch = 0;
  private graceTimer: unknown = null;
  private watchdogTimer: unknown = null;
  private startedAt = 0;
  private announcedReady = false;
  private exitCode: number = EXIT_CODES.OK;
  private clusterDir = '';
  private compileCacheDir: string | null = null;
  private generations = 0;
  private target: number;
  private restartsTotal = 0;
  private readonly restartsByReason = new Map<string, number>();
  private reloadsTotal = 0;
  private readonly restartsByIndex = new Map<number, number>();
  private leader: Proc | null = null;
  /** Scrapes under way, by collection id. */
  private readonly collections = new Map<
    number,
    { asker: Proc; askerId: number; waiting: Set<Proc>; fresh: Set<Proc>; targets: Proc[]; timer: unknown }
  >();
  private metricsSeq = 0;
  /** The summed counters of every serving process that is gone, and the same as JSON (made once per exit, not per scrape). */
  private retiredMetrics: MetricJson[] = [];
  private retiredJson = '[]';
  private preloadDurationMs: number | null = null;
  private heavyChecked = false;
  private readonly random: () => number = Math.random;
  private control: ControlServer | null = null;
  /** The start-up timeline (null with `timeline: false`), and its pending write. */
  private timeline: StartTimeline | null = null;
  private timelineTimer: unknown = null;
  private manifestCache: { path: string; steps: StepLine[] } | null = null;
  private timelineWarned = false;
  private resolveDone: (code: number) => void = () => undefined;

  constructor(
    private readonly options: ResolvedSupervisorOptions,
    private readonly cluster: ClusterPort,
    private readonly proc: ProcessPort,
    private readonly timers: TimerPort,
    private readonly logger: SupervisorLogger,
    private readonly host: HostPort = nodeHost,
  ) {
    this.target = options.workers;
    this.policy = new RestartPolicy(options);
  }

  /** The current state, for tests and health. */
  get currentState(): SupervisorState {
    return this.state;
  }

  /** Pids of the serving (not draining) workers by index. */
  workerPids(): Map<number, number | undefined> {
    return new Map(
      this.serving()
        .filter((p) => p.phase !== 'draining')
        .map((p) => [p.index, p.child.pid]),
    );
  }

  /** Starts the cluster; resolves with the exit code once it has stopped. */
  run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.resolveDone = resolve));
    this.startedAt = this.timers.now();
    if (this.options.timeline) this.timeline = new StartTimeline(this.wall(), this.proc.pid, () => this.target);
    // What a killed cluster left (its dir, its workers' temp dirs) goes now, and only that.
    const swept = this.host.sweep([this.options.runRoot, ...this.options.sweepRoots]);
    if (swept.length) this.logger.log(`swept ${swept.length} dir(s) left by processes that are gone: ${swept.join(', ')}`);
    this.clusterDir = this.host.makeClusterDir(this.options.runRoot, this.proc.pid);
    if (this.options.compileCache && compileCacheSupported()) {
      this.compileCacheDir = join(this.clusterDir, 'compile-cache');
      this.host.makeDir(this.compileCacheDir);
    }
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const)
      this.proc.onSignal(signal, () => this.enqueue({ type: 'signal', signal }));
    this.hook('onStarting', undefined);
    if (this.options.controlFile) {
      this.control = new ControlServer(
        join(this.clusterDir, 'control.sock'),
        this.options.controlFile,
        (request) =>
          new Promise((resolve, reject) =>
            this.enqueue({ type: 'control', request, respond: (result, error) => (error ? reject(new Error(error)) : resolve(result)) }),
          ),
        (message) => this.logger.warn(message),
      );
      this.control
        .start()
        .catch((error: Error) =>
          this.logger.error(`the control socket could not start (${error.message}); the CLI cannot reach this cluster`),
        );
    }
    if (this.options.heartbeatTimeoutMs > 0) this.scheduleWatchdog();
    const mode = this.options.preload
      ? `on (${this.options.preloadStart}, the preloader ${this.options.preloader === 'serves' ? 'serves as worker 0' : 'exits after handing over'})`
      : 'off';
    this.logger.log(`starting ${this.options.workers} worker(s), preload ${mode}`);
    this.enqueue({
      type: 'timer',
      fire: () => {
        if (this.options.preload) this.startPreload(false);
        else this.state = 'running';
      },
    });
    return done;
  }

  // ---- the loop -------------------------------------------------------------------------------

  private enqueue(event: SupervisorEvent): void {
    this.queue.push(event);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        this.dispatch(next);
        // A message that only reads the cluster or feeds what operators see changes nothing to reconcile.
        if (!(next.type === 'message' && OBSERVING.has((next.message as { type?: unknown } | null)?.type as string))) this.reconcile();
      }
    } finally {
      this.dispatching = false;
    }
  }

  private dispatch(event: SupervisorEvent): void {
    switch (event.type) {
      case 'signal':
        return this.handleSignal(event.signal);
      case 'message':
        return this.handleMessage(event.proc, event.message);
      case 'exit':
        return this.reap(event.proc, event.code, event.signal);
      case 'timer':
        return event.fire();
      case 'control':
        return this.handleControl(event.request, event.respond);
    }
  }

  /** A timer whose callback runs as an event of the loop (never from the timer itself). */
  private after(ms: number, fire: () => void): unknown {
    return this.timers.setTimeout(() => this.enqueue({ type: 'timer', fire }), ms);
  }

  /**
   * Compares what should be with what is, and does what is missing. Called after every event, so
   * no handler has to remember to push the machine on.
   */
  private reconcile(): void {
    if (this.state === 'stopped' || this.state === 'starting') return;
    if (this.state === 'stopping') return this.maybeFinish();
    this.retireAboveTarget();
    this.settleReload();
    this.startQueuedReload();
    this.announceReady();
    this.checkHeavyPreloader();
    this.spawnMissing();
    this.replaceStale();
    this.electLeader();
  }

  /** Workers that hold an index: every worker, and a preloader that serves. */
  private serving(): Proc[] {
    return [...this.procs.values()].filter((p) => p.serves);
  }

  /** Whether `p` must be replaced: an older epoch than the reload's, or a recycle. */
  private isStale(p: Proc): boolean {
    return p.recycle !== null || (this.reload !== null && p.epoch < this.reload.epoch);
  }

  /** Indices at or above the target drain (booting ones included); their respawns are cancelled. */
  private retireAboveTarget(): void {
    for (const [index, timer] of this.respawns) {
      if (index < this.target) continue;
      this.timers.clearTimeout(timer);
      this.respawns.delete(index);
    }
    for (const p of this.serving()) {
      if (p.index >= this.target && p.phase !== 'draining') this.drain(p, `scaled down to ${this.target}`);
    }
    this.policy.forgetFrom(this.target);
  }

  /** A reload is complete once no worker of an older epoch is left, draining ones included. */
  private settleReload(): void {
    const reload = this.reload;
    if (!reload || this.reloadPreloading()) return;
    if (this.serving().some((p) => p.epoch < reload.epoch)) return;
    this.reload = null;
    this.logger.log(
      `reload complete in ${Math.round(this.timers.now() - reload.startedAt)} ms (${this.current ? `generation ${this.current.id}` : 'not preloaded'})`,
    );
  }

  /** A queued reload starts once the cluster has been ready and nothing else reloads. */
  private startQueuedReload(): void {
    if (!this.queuedReload || this.reload || this.preload || this.state !== 'running' || !this.announcedReady) return;
    const { withPreload } = this.queuedReload;
    this.queuedReload = null;
    const workers = this.serving().filter((p) => p.phase !== 'draining').length;
    this.reload = { epoch: ++this.epoch, withPreload, startedAt: this.timers.now() };
    this.reloadsTotal++;
    this.logger.log(`rolling reload of ${workers} worker(s)${withPreload ? ' with a new preload generation' : ''}`);
    this.hook('onReload', { workers, withPreload });
    if (withPreload) this.startPreload(true);
  }

  /** A reload's new generation is still being preloaded (its replacements wait for it). */
  private reloadPreloading(): boolean {
    return this.reload !== null && this.preload?.forReload === true;
  }

  /** The epoch a worker started now belongs to: a reload's once its generation is ready. */
  private spawnEpoch(): number {
    if (this.reloadPreloading()) return (this.reload as Reload).epoch - 1;
    return this.epoch;
  }

  /** Every index below the target gets a live worker, unless a respawn is pending for it. */
  private spawnMissing(): void {
    if (this.state !== 'running' && this.state !== 'preloading') return;
    const firstPreload = this.state === 'preloading';
    if (firstPreload) {
      // Serial start: the workers are forked once the hand-over exists.
      if (this.options.preloadStart === 'serial') return;
      // With a compile cache, the workers wait for the preloader to flush it (its steps start).
      if (this.compileCacheDir && !this.preload?.stepsStarted) return;
    }
    // First pipelined start: at most pipelineConcurrency workers build their apps beside the
    // preloader; one that is built and waiting for the hand-over makes room for the next.
    let booting = firstPreload ? this.serving().filter((p) => p.phase === 'booting' && !p.isPreloader).length : 0;
    for (let index = 0; index < this.target; index++) {
      if (this.respawns.has(index)) continue;
      if (this.serving().some((p) => p.index === index && p.phase !== 'draining')) continue;
      if (firstPreload && booting >= this.options.pipelineConcurrency) return;
      this.spawnWorker(index, this.spawnEpoch());
      booting++;
    }
  }

  /**
   * Stale workers (a reload's older epoch, a recycle) are replaced one index at a time: a
   * replacement is started, and once it is ready the old worker drains.
   */
  private replaceStale(): void {
    if (this.state !== 'running') return;
    const live = this.serving().filter((p) => p.phase !== 'draining');
    let replacing = live.some(
      (p) => !this.isStale(p) && p.phase !== 'ready' && live.some((o) => o !== p && o.index === p.index && this.isStale(o)),
    );
    const stale = live.filter((p) => p.phase === 'ready' && this.isStale(p)).sort((a, b) => a.index - b.index);
    for (const old of stale) {
      const fresh = live.find((p) => p !== old && p.index === old.index && !this.isStale(p));
      if (fresh?.phase === 'ready') {
        this.logger.log(`worker ${old.index} replaced: pid ${old.child.pid} → ${fresh.child.pid}; draining the old one`);
        this.drain(old, 'replaced');
        continue;
      }
      if (fresh || replacing) continue;
      // A reload's replacements start from its new generation: once it exists or, pipelined, once
      // its steps run (they build their apps meanwhile and wait for the hand-over).
      if (this.reloadPreloading() && !(this.options.preloadStart === 'pipelined' && this.preload?.stepsStarted)) continue;
      if (this.holds.has(old.index)) continue;
      this.spawnWorker(old.index, this.epoch);
      replacing = true;
    }
  }

  /** The lowest-index ready, non-draining, current worker leads; a new leader is told when the old one goes. */
  private electLeader(): void {
    const eligible = (p: Proc | null): p is Proc => p !== null && this.procs.has(p.seq) && p.phase === 'ready' && p.index < this.target;
    const candidates = this.serving()
      .filter(eligible)
      .sort((a, b) => Number(this.isStale(a)) - Number(this.isStale(b)) || a.index - b.index || a.seq - b.seq);
    const best = candidates[0];
    // A leader keeps leading until a current (not stale) worker can take over.
    if (eligible(this.leader) && (!this.isStale(this.leader) || !best || this.isStale(best))) return;
    const next = candidates[0] ?? null;
    if (next === this.leader) return;
    if (this.leader && this.procs.has(this.leader.seq)) this.leader.child.send({ type: LEADER, leader: false });
    this.leader = next;
    if (next) {
      next.child.send({ type: LEADER, leader: true });
      this.logger.log(`worker ${next.index} (pid ${next.child.pid}) is the leader`);
    }
  }

  private announceReady(): void {
    if (this.announcedReady || this.state !== 'running') return;
    const ready = new Set(
      this.serving()
        .filter((p) => p.phase === 'ready')
        .map((p) => p.index),
    );
    for (let i = 0; i < this.target; i++) if (!ready.has(i)) return;
    this.announcedReady = true;
    const readyMs = Math.round(this.timers.now() - this.startedAt);
    const mode = this.current ? `preloaded, generation ${this.current.id}` : 'not preloaded';
    this.logger.log(`cluster ready: ${ready.size}/${this.target} workers (${mode}) in ${readyMs} ms`);
    this.timeline?.clusterReady(this.wall());
    this.writeTimeline();
    this.hook('whenReady', { workers: ready.size, generation: this.current?.id ?? null, readyMs });
  }

  /**
   * Once the cluster is ready: a serving preloader whose RSS grew during its steps by more than
   * `heavyPreloaderRatio` (what its steps left in its heap) is replaced, off the critical path. The
   * other workers' median is logged beside it, not compared: it moves with the traffic they served.
   */
  private checkHeavyPreloader(): void {
    const ratio = this.options.heavyPreloaderRatio;
    if (this.heavyChecked || !this.announcedReady || ratio <= 0 || this.reload) return;
    const pre = this.serving().find((p) => p.isPreloader && p.phase === 'ready');
    if (!pre?.stepsRssMb) return;
    this.heavyChecked = true;
    // Against itself right before its steps, when it held what a fresh worker holds (the app
    // built): the growth is what its steps left in its heap. Unlike the other workers' RSS, this
    // does not move with the traffic they happen to have served.
    const { before, after } = pre.stepsRssMb;
    const others = this.serving()
      .filter((p) => !p.isPreloader && p.phase === 'ready' && p.rssMb !== null)
      .map((p) => p.rssMb as number);
    const beside = others.length ? `; the other workers' median is ${medianOf(others)} MB` : '';
    if (after <= ratio * before) {
      this.logger.log(
        `the preloader (worker ${pre.index}) went from ${before} MB to ${after} MB RSS in its steps${beside}: it goes on serving`,
      );
      return;
    }
    pre.recycle = `its steps took its RSS from ${before} MB to ${after} MB, over ${ratio}× (heavyPreloaderRatio)${beside}`;
    this.logger.log(`replacing the preloader (worker ${pre.index}, pid ${pre.child.pid}): ${pre.recycle}`);
  }

  // ---- events ---------------------------------------------------------------------------------

  private handleSignal(signal: NodeJS.Signals): void {
    if (signal === 'SIGHUP') return void this.requestReload('SIGHUP', null);
    if (signal === 'SIGTTIN' || signal === 'SIGTTOU') return void this.scaleTo(this.target + (signal === 'SIGTTIN' ? 1 : -1), signal);
    if (this.state === 'stopping') {
      this.logger.warn(`${signal} again while stopping: killing every child now`);
      return this.killAll('SIGKILL');
    }
    this.logger.log(`${signal} received: stopping gracefully (up to ${this.options.gracefulTimeoutMs} ms)`);
    this.halt(EXIT_CODES.OK);
  }

  /** Accepts a reload: now, or queued (kind kept) until the cluster is ready and nothing else reloads. */
  private requestReload(
    source: string,
    preload: boolean | null,
  ): { accepted: boolean; queued: boolean; withPreload: boolean; error?: string } {
    const withPreload = this.options.preload && (preload ?? this.options.reloadPreload);
    if (this.state === 'stopping' || this.state === 'stopped') {
      this.logger.warn(`${source}: reload refused, the cluster is ${this.state}`);
      return { accepted: false, queued: false, withPreload, error: `cannot reload while ${this.state}` };
    }
    const queued = this.reload !== null || this.preload !== null || this.state !== 'running' || !this.announcedReady;
    if (this.queuedReload) {
      this.queuedReload.withPreload ||= withPreload;
      this.logger.log(
        `${source}: a reload is already queued; it will run once (${this.queuedReload.withPreload ? 'with' : 'without'} a new preload)`,
      );
    } else {
      this.queuedReload = { withPreload };
      if (queued)
        this.logger.log(
          `${source} received during ${this.reload ? 'a reload: queued; it runs once this reload is complete' : 'the start-up: queued; it runs once the cluster is ready'}`,
        );
      else this.logger.log(`${source} received`);
    }
    return { accepted: true, queued, withPreload: this.queuedReload?.withPreload ?? withPreload };
  }

  /** Sets the target (SIGTTIN/SIGTTOU or the control socket); never below one. */
  private scaleTo(workers: number, source: string): { from: number; to: number } {
    const from = this.target;
    if (this.state !== 'running' && this.state !== 'preloading') {
      this.logger.warn(`${source}: scale ignored while ${this.state}`);
      return { from, to: from };
    }
    if (workers < 1) {
      this.logger.warn(`${source} ignored: the cluster keeps at least one worker`);
      return { from, to: from };
    }
    this.target = workers;
    if (from !== workers) this.logger.log(`${source}: scaling from ${from} to ${workers} worker(s)`);
    return { from, to: workers };
  }

  /** A command from the control socket (the `nest-preload` CLI). */
  private handleControl(request: ControlRequest, respond: (result: unknown, error?: string) => void): void {
    switch (request.cmd) {
      case 'status':
        return respond(this.status());
      case 'reload': {
        const outcome = this.requestReload('reload (control socket)', request.preload ?? null);
        if (!outcome.accepted) return respond(null, outcome.error);
        return respond({
          reloading: true,
          queued: outcome.queued,
          withPreload: outcome.withPreload,
          workers: this.serving().filter((p) => p.phase !== 'draining').length,
        });
      }
      case 'scale': {
        if (this.state !== 'running' && this.state !== 'preloading') return respond(null, `cannot scale while ${this.state}`);
        return respond(this.scaleTo(request.workers, 'scale (control socket)'));
      }
      case 'stop':
        respond({ stopping: true, pid: this.proc.pid });
        this.logger.log('stop asked over the control socket');
        return this.halt(EXIT_CODES.OK);
    }
  }

  private handleMessage(p: Proc, message: unknown): void {
    if (!this.procs.has(p.seq)) return;
    const preload = this.preload;
    // The current preloader's own two messages; from anyone else they are ignored below.
    if (p.isPreloader && preload?.preloader === p) {
      const outcome = dispatch<ChildMessages>(message, {
        [STEPS_STARTED]: () => void (preload.stepsStarted = true),
        [PRELOAD_DONE]: (m) => this.handlePreloadDone(m),
      });
      if (outcome === 'handled') return;
    }
    // Every other message of ours is checked against its shape first; anything not ours is ignored.
    const outcome = dispatch<ChildMessages>(
      message,
      {
        [TIMELINE]: (m) => this.timelineReported(p, m),
        [AWAIT_HANDOVER]: () => this.handleAwaitHandover(p),
        [HEARTBEAT]: (m) => this.handleHeartbeat(p, m),
        [STOPPING]: (m) => void (p.stoppedOn = String(m.reason).slice(0, 32)),
        [BOOT_FAILED]: (m) => void (p.bootError = m.reason),
        [METRICS_REQUEST]: (m) => this.collectMetrics(p, m),
        [METRICS_REPORT]: (m) => this.metricsReported(p, m),
        [CLUSTER_STATUS_REQUEST]: (m) => p.child.send({ type: CLUSTER_STATUS, id: m.id, view: this.clusterView() }),
        // node:cluster read this worker's server close before this: nothing more is handed to it.
        [SERVER_CLOSED]: () => p.child.send({ type: SERVER_CLOSED_ACK }),
        [READY]: (m) => this.handleReady(p, m),
      },
      checkChildMessage,
    );
    if (outcome === 'malformed') {
      this.logger.warn(
        `worker ${p.index} (pid ${p.child.pid}) sent a malformed ${String((message as { type: unknown }).type).slice(0, 64)} message: ignored`,
      );
    }
  }

  private timelineReported(p: Proc, message: TimelineMessage): void {
    if (!this.timeline) return;
    if (!this.timeline.reported(p.seq, message, Date.now(), this.wall()))
      this.logger.warn(
        `${p.isPreloader && !p.serves ? 'the preloader' : `worker ${p.index}`} (pid ${p.child.pid}) sent a malformed timeline: ignored`,
      );
    this.timelineChanged();
  }

  private handleReady(p: Proc, message: ReadyMessage): void {
    // A worker the supervisor is killing (boot timeout, hung) does not become ready on the way out.
    if (p.phase !== 'booting' || p.killedBy !== null) return;
    p.phase = 'ready';
    p.ran = message.ran ?? [];
    p.readyAt = this.timers.now();
    p.lastBeat = p.readyAt;
    this.timeline?.mark(p.seq, 'ready', this.wall());
    this.timelineChanged();
    this.timers.clearTimeout(p.bootTimer);
    this.hook('workerReady', { index: p.index, pid: p.child.pid });
    // A worker that serves minUptimeMs is stable: its index starts its restart count over.
    p.stableTimer = this.after(this.options.minUptimeMs, () => this.policy.stable(p.index));
  }

  /** Pipelined start or a reload's preload: a worker built its app and waits for the hand-over. */
  private handleAwaitHandover(p: Proc): void {
    if (p.phase !== 'booting') return;
    const waitsFor = p.waitsFor;
    if (waitsFor && this.preload?.generation === waitsFor) {
      p.phase = 'awaiting';
      p.awaitingSince = this.timers.now();
      // The boot timer measures the worker's own boot: it pauses while the preload runs.
      this.timers.clearTimeout(p.bootTimer);
      p.bootSpentMs += this.timers.now() - p.bootResumedAt;
      return;
    }
    this.sendHandover(p);
  }

  /** Tells a waiting worker the outcome of the preload it waited on, and resumes its boot timer. */
  private sendHandover(p: Proc): void {
    const answer: HandoverMessage = this.current?.manifestPath
      ? { type: HANDOVER, ok: true, manifestPath: this.current.manifestPath, generation: this.current.id }
      : { type: HANDOVER, ok: false, reason: this.abandonReason ?? 'preload is off' };
    const waitedOn = p.waitsFor;
    p.generation = this.current;
    p.waitsFor = null;
    p.child.send(answer);
    this.dropGenerationIfUnused(waitedOn);
    if (p.phase === 'awaiting') {
      p.phase = 'booting';
      if (p.awaitingSince !== null) p.handoverWaitMs = Math.round(this.timers.now() - p.awaitingSince);
      p.bootResumedAt = this.timers.now();
      this.startBootTimer(p, this.options.bootTimeoutMs - p.bootSpentMs);
    }
  }

  /** A heartbeat: the worker's event loop runs (draining workers beat too). Also where recycling is decided. */
  private handleHeartbeat(p: Proc, beat: HeartbeatMessage): void {
    p.lastBeat = this.timers.now();
    p.requests = beat.requests;
    p.rssMb = beat.rssMb;
    if (p.phase !== 'ready' || p.recycle || this.state !== 'running') return;
    if (p.requests >= p.requestLimit) p.recycle = `served ${p.requests} requests (maxRequests ${this.options.maxRequests})`;
    else if (this.options.maxRssMb > 0 && beat.rssMb > this.options.maxRssMb)
      p.recycle = `RSS ${beat.rssMb} MB is over maxRssMb ${this.options.maxRssMb}`;
    if (p.recycle) this.logger.log(`recycling worker ${p.index} (pid ${p.child.pid}): ${p.recycle}`);
  }

  // ---- the preload ----------------------------------------------------------------------------

  private compileCacheEnv(): Record<string, string> {
    return this.compileCacheDir ? { NODE_COMPILE_CACHE: this.compileCacheDir } : {};
  }

  /** Forks a preloader that writes a new generation (serving as index 0 unless `preloader: 'exits'`). */
  private startPreload(forReload: boolean): void {
    if (!forReload) this.state = 'preloading';
    const id = randomUUID();
    const dir = join(this.clusterDir, `gen-${++this.generations}`);
    const generation: Generation = { id, dir, runDir: join(dir, 'run'), tempRoot: join(dir, 'tmp'), manifestPath: null };
    this.host.makeDir(dir, id);
    this.host.makeDir(generation.runDir);
    this.host.makeDir(generation.tempRoot);
    const serves = this.options.preloader === 'serves';
    const env: Record<string, string> = {
      [PRELOAD_ENV.role]: 'preloader',
      [PRELOAD_ENV.runDir]: generation.runDir,
      [PRELOAD_ENV.tempRoot]: generation.tempRoot,
      [PRELOAD_ENV.generation]: id,
      ...this.compileCacheEnv(),
    };
    if (serves) {
      env[PRELOAD_ENV.preloaderServes] = '1';
      env[PRELOAD_ENV.workerIndex] = '0';
      if (this.options.heartbeatTimeoutMs > 0) env[PRELOAD_ENV.heartbeatMs] = String(this.options.heartbeatIntervalMs);
    }
    if (this.timeline) env[PRELOAD_ENV.recordTimeline] = '1';
    this.hook('preFork', { role: 'preloader', index: serves ? 0 : null });
    const forkedAt = this.wall();
    const child = this.cluster.fork(env, serves ? this.options.workerExecArgv : []);
    this.hook('postFork', { role: 'preloader', index: serves ? 0 : null, pid: child.pid });
    const p = this.track(child, 0, serves, true, forReload ? (this.reload as Reload).epoch : this.epoch, generation);
    this.timeline?.forked(p.seq, child.pid, serves ? 'preloader, serves as worker 0' : 'preloader', serves ? 2 : 1, forkedAt);
    this.logger.log(
      `preloader started (pid ${child.pid}, generation ${id}${serves ? ', it serves as worker 0 once it has handed over' : ''})`,
    );
    this.preload = {
      generation,
      preloader: p,
      startedAt: this.timers.now(),
      stepsStarted: false,
      forReload,
      timer: this.after(this.options.preloadTimeoutMs, () => this.handlePreloadTimeout(generation)),
    };
  }

  private handlePreloadDone(message: PreloadDoneMessage): void {
    const run = this.preload as PreloadRun;
    this.timeline?.mark(run.preloader.seq, message.ok ? 'handed over' : 'preload abandoned', this.wall());
    if (message.ok && message.manifestPath) {
      run.generation.manifestPath = message.manifestPath;
      if (count(message.rssBeforeStepsMb, 2 ** 24) && count(message.rssAfterStepsMb, 2 ** 24)) {
        run.preloader.stepsRssMb = { before: message.rssBeforeStepsMb as number, after: message.rssAfterStepsMb as number };
      }
      if (message.lingering.length) this.logger.warn(`the preloader exited with handles still open: ${message.lingering.join(', ')}`);
      this.finishPreload(null);
      // It now boots its server like any worker, bounded by bootTimeoutMs.
      if (run.preloader.serves) this.startBootTimer(run.preloader, this.options.bootTimeoutMs);
      return;
    }
    const reason = message.reason ?? 'the preloader reported no hand-over';
    if (message.appFailed && !run.forReload && !this.announcedReady) {
      // The app itself cannot start: every worker would fail the same way, after the same wait.
      this.logger.error(`the preloader could not create the app: ${reason}; halting (the workers would fail the same way)`);
      // Halt first, so that ending the preload says nothing about workers doing the full start-up.
      this.halt(EXIT_CODES.WORKER_BOOT_ERROR);
      // The workers still building their apps for this hand-over have run no step and serve
      // nothing: there is nothing to drain, so they are ended at once.
      for (const p of this.procs.values()) {
        if (p.waitsFor === run.generation && p !== run.preloader) this.kill(p, 'SIGKILL', 'the app cannot start');
      }
      return this.finishPreload(reason);
    }
    this.finishPreload(reason);
  }

  private handlePreloadTimeout(generation: Generation): void {
    const run = this.preload;
    if (!run || run.generation !== generation) return;
    const why = `timed out after ${this.options.preloadTimeoutMs} ms`;
    this.logger.warn(`the preloader did not finish within ${this.options.preloadTimeoutMs} ms: killing it`);
    this.kill(run.preloader, 'SIGKILL', 'preload timeout');
    this.finishPreload(why);
  }

  /** Ends the preload: with the hand-over (`failure` null) or falling back; waiting workers are answered. */
  private finishPreload(failure: string | null): void {
    const run = this.preload as PreloadRun;
    this.preload = null;
    this.timers.clearTimeout(run.timer);
    const tookMs = Math.round(this.timers.now() - run.startedAt);
    this.preloadDurationMs = tookMs;
    this.timeline?.primarySpan(
      `preload ${run.generation.dir.split('/').pop()}${failure === null ? '' : ' (abandoned)'}`,
      this.wall() - tookMs,
      this.wall(),
    );
    const previous = this.current;
    if (failure === null) {
      this.current = run.generation;
      this.logger.log(`preload complete in ${tookMs} ms (generation ${run.generation.id})`);
    } else {
      if (this.state !== 'stopping')
        this.logger.warn(`preload abandoned after ${tookMs} ms (${failure}); workers will run the full start-up`);
      this.current = null;
      this.abandonReason = failure;
      // A serving preloader that failed exits; it never holds its index.
      run.preloader.generation = null;
      this.dropGenerationIfUnused(run.generation);
    }
    if (previous && previous !== this.current) this.dropGenerationIfUnused(previous);
    if (this.state === 'preloading') this.state = 'running';
    // Workers that asked are answered now; those still building ask later and are answered then.
    for (const p of this.procs.values()) if (p.waitsFor === run.generation && p.phase === 'awaiting') this.sendHandover(p);
  }

  // ---- children -------------------------------------------------------------------------------

  private track(
    child: ChildHandle,
    index: number,
    serves: boolean,
    isPreloader: boolean,
    epoch: number,
    generation: Generation | null,
  ): Proc {
    const now = this.timers.now();
    const requestLimit =
      this.options.maxRequests > 0 ? this.options.maxRequests + Math.floor(this.random() * (this.options.maxRequestsJitter + 1)) : Infinity;
    const p: Proc = {
      seq: ++this.seq,
      index,
      child,
      serves,
      isPreloader,
      phase: 'booting',
      epoch,
      recycle: null,
      generation,
      waitsFor: null,
      bootTimer: null,
      bootSpentMs: 0,
      bootResumedAt: now,
      drainTimer: null,
      killTimer: null,
      stableTimer: null,
      killedBy: null,
      bootError: null,
      lastBeat: now,
      requests: 0,
      rssMb: null,
      ran: [],
      lastMetrics: null,
      finalMetrics: false,
      requestLimit,
      stoppedOn: null,
      spawnedAt: now,
      readyAt: null,
      awaitingSince: null,
      handoverWaitMs: null,
      drainReason: null,
      stepsRssMb: null,
    };
    this.procs.set(p.seq, p);
    child.onMessage((message) => this.enqueue({ type: 'message', proc: p, message }));
    child.onExit((code, signal) => this.enqueue({ type: 'exit', proc: p, code, signal }));
    return p;
  }

  /**
   * Forks a worker for `index`. While a preload runs for it (the first start, or a reload's new
   * generation), the worker builds its app and waits for the hand-over; otherwise it starts from
   * the current generation at once.
   */
  private spawnWorker(index: number, epoch: number): Proc {
    const env: Record<string, string> = {
      [PRELOAD_ENV.role]: 'worker',
      [PRELOAD_ENV.workerIndex]: String(index),
      ...this.compileCacheEnv(),
    };
    const waitsFor = this.preload && (!this.preload.forReload || epoch === this.reload?.epoch) ? this.preload.generation : null;
    if (waitsFor) env[PRELOAD_ENV.awaitHandover] = '1';
    else if (this.current?.manifestPath) {
      env[PRELOAD_ENV.manifest] = this.current.manifestPath;
      env[PRELOAD_ENV.generation] = this.current.id;
    }
    if (this.options.heartbeatTimeoutMs > 0) env[PRELOAD_ENV.heartbeatMs] = String(this.options.heartbeatIntervalMs);
    if (this.timeline) env[PRELOAD_ENV.recordTimeline] = '1';
    this.hook('preFork', { role: 'worker', index });
    const forkedAt = this.wall();
    const child = this.cluster.fork(env, this.options.workerExecArgv);
    this.hook('postFork', { role: 'worker', index, pid: child.pid });
    const p = this.track(child, index, true, false, epoch, waitsFor ? null : this.current);
    this.timeline?.forked(p.seq, child.pid, `worker ${index}`, 2 + index, forkedAt);
    p.waitsFor = waitsFor;
    this.startBootTimer(p, this.options.bootTimeoutMs);
    return p;
  }

  private startBootTimer(p: Proc, ms: number): void {
    this.timers.clearTimeout(p.bootTimer);
    p.bootResumedAt = this.timers.now();
    p.bootTimer = this.after(Math.max(0, ms), () => {
      if (p.phase !== 'booting' || !this.procs.has(p.seq) || this.state === 'stopping') return;
      this.logger.error(
        `worker ${p.index} (pid ${p.child.pid}) was not ready within bootTimeoutMs (${this.options.bootTimeoutMs} ms of its own boot): killing it`,
      );
      this.kill(p, 'SIGKILL', BOOT_TIMEOUT);
    });
  }

  /** Asks a worker to drain and exit; the drain is bounded by `drainTimeoutMs`. */
  private drain(p: Proc, why: string): void {
    if (p.phase === 'draining') return;
    p.phase = 'draining';
    p.drainReason = why;
    this.timers.clearTimeout(p.bootTimer);
    p.child.send({ type: SHUTDOWN });
    const bound = this.state === 'stopping' ? this.options.gracefulTimeoutMs : this.options.drainTimeoutMs;
    if (this.state === 'stopping') return;
    p.drainTimer = this.after(bound, () => {
      if (!this.procs.has(p.seq)) return;
      this.logger.warn(
        `worker ${p.index} (pid ${p.child.pid}) was still draining after drainTimeoutMs (${bound} ms): telling it to close its open connections, then killing it`,
      );
      p.child.send({ type: SHUTDOWN, cut: true });
      this.killLater(p, 'drain timeout');
    });
  }

  /** SIGKILL after a grace, unless it exits first (one kill timer per process, stored and cleared). */
  private killLater(p: Proc, why: string): void {
    this.timers.clearTimeout(p.killTimer);
    p.killTimer = this.after(KILL_GRACE_MS, () => this.kill(p, 'SIGKILL', why));
  }

  /** Sends a signal the supervisor means, and remembers why for the exit line. */
  private kill(p: Proc, signal: NodeJS.Signals, why: string): void {
    p.killedBy ??= why;
    p.child.kill(signal);
  }

  /**
   * A scrape: asks every ready or draining serving process for its metrics, and answers the asking
   * worker once all answered or `timeoutMs` passed — a process that did not answer is given with its
   * last report (`fresh: false`), so the scrape never fails and no counter drops. Plain JSON: the
   * primary relays, the worker aggregates with prom-client.
   */
  private collectMetrics(asker: Proc, request: MetricsRequestMessage): void {
    const id = ++this.metricsSeq;
    const targets = this.serving().filter((p) => p.phase === 'ready' || p.phase === 'draining');
    const collection = { asker, askerId: request.id, waiting: new Set(targets), fresh: new Set<Proc>(), targets, timer: null as unknown };
    this.collections.set(id, collection);
    collection.timer = this.after(Math.min(Math.max(request.timeoutMs, 10), 30_000), () => this.finishCollection(id));
    for (const p of targets) p.child.send({ type: METRICS_COLLECT, id } satisfies MetricsCollectMessage);
    if (!targets.length) this.finishCollection(id);
  }

  private metricsReported(p: Proc, report: MetricsReportMessage): void {
    // After its last report (its app closing), an answer it had started before is older: not taken.
    if (p.finalMetrics) return;
    p.lastMetrics = Buffer.from(report.metrics, 'utf8');
    if (report.id === FINAL_METRICS_REPORT) {
      p.finalMetrics = true;
      // It will not answer the collections still waiting on it (its listener is gone): this is its answer.
      for (const id of [...this.collections.keys()]) this.answered(id, p);
      return;
    }
    this.answered(report.id, p);
  }

  /** `p` answered collection `id` (if it was waiting on it); the last answer finishes it. */
  private answered(id: number, p: Proc): void {
    const collection = this.collections.get(id);
    if (!collection?.waiting.delete(p)) return;
    collection.fresh.add(p);
    if (collection.waiting.size === 0) this.finishCollection(id);
  }

  private finishCollection(id: number): void {
    const collection = this.collections.get(id);
    if (!collection) return;
    this.collections.delete(id);
    this.timers.clearTimeout(collection.timer);
    if (!this.procs.has(collection.asker.seq)) return;
    // A process that exited meanwhile is counted once, in the retired totals its last report joined.
    const reports = collection.targets
      .filter((p) => p.lastMetrics !== null && this.procs.has(p.seq))
      .map((p) => ({
        index: p.index,
        pid: p.child.pid ?? null,
        fresh: collection.fresh.has(p),
        metrics: (p.lastMetrics as Buffer).toString('utf8'),
      }));
    const result: MetricsResultMessage = {
      type: METRICS_RESULT,
      id: collection.askerId,
      reports,
      retired: this.retiredJson,
      status: this.status(),
    };
    collection.asker.child.send(result);
  }

  /** A serving process is gone: its last counters join the retired totals (a report that is not JSON is dropped). */
  private retire(p: Proc): void {
    let metrics: unknown;
    try {
      metrics = JSON.parse((p.lastMetrics as Buffer).toString('utf8'));
    } catch {
      return this.logger.warn(
        `worker ${p.index} (pid ${p.child.pid}) left a metrics report that is not JSON: its counters are not carried`,
      );
    }
    if (!Array.isArray(metrics)) return;
    this.retiredMetrics = carryCounters(this.retiredMetrics, metrics);
    this.retiredJson = JSON.stringify(this.retiredMetrics);
  }

  private countRestart(index: number, reason: string): void {
    this.restartsTotal++;
    this.restartsByIndex.set(index, (this.restartsByIndex.get(index) ?? 0) + 1);
    this.restartsByReason.set(reason, (this.restartsByReason.get(reason) ?? 0) + 1);
  }

  /** A child exited: the worker table forgets it; what follows is decided by meaning. */
  private reap(p: Proc, code: number | null, signal: NodeJS.Signals | null): void {
    if (!this.procs.delete(p.seq)) return;
    // Its counters live on in the cluster's totals; a scrape waiting for it stops waiting.
    if (p.lastMetrics) this.retire(p);
    for (const [id, collection] of this.collections) {
      if (collection.waiting.delete(p) && collection.waiting.size === 0) this.finishCollection(id);
    }
    for (const timer of [p.bootTimer, p.drainTimer, p.killTimer, p.stableTimer]) this.timers.clearTimeout(timer);
    const who = p.isPreloader && this.preload?.preloader === p ? 'the preloader' : `worker ${p.index} (pid ${p.child.pid})`;
    const what = describeExit(who, code, signal, p.killedBy);
    this.timeline?.mark(p.seq, signal ? `exit (${signal})` : `exit (code ${code})`, this.wall());
    this.timelineChanged();
    const expected = p.phase === 'draining' || this.state === 'stopping' || p.stoppedOn !== null || (p.isPreloader && !p.serves);
    if (p.serves) this.hook('workerExit', { index: p.index, pid: p.child.pid, code, signal, expected });
    if (this.leader === p) this.leader = null;
    if (this.preload?.preloader === p) {
      this.finishPreload(p.bootError ?? what);
      if (this.state === 'stopping') return;
    } else if (p.isPreloader && !p.serves) {
      if (code !== 0 && this.state !== 'stopping')
        this.logger.warn(`${describeExit('the preloader', code, signal, p.killedBy)} after handing over`);
      return this.dropGenerationIfUnused(p.generation);
    }
    this.dropGenerationIfUnused(p.generation ?? p.waitsFor);
    if (this.state === 'stopping') return this.logger.log(what);
    if (p.phase === 'draining')
      return this.logger.log(`${what} (${p.drainReason === 'replaced' ? 'replaced' : `drained: ${p.drainReason}`})`);
    if (p.index >= this.target) return this.logger.log(what);
    if (p.isPreloader && p.readyAt === null && !p.generation) {
      // A preloader that could not hand over gives its index to a worker doing the full start-up.
      return this.logger.log(`${what}; worker 0 is started without a hand-over`);
    }
    // A replacement (a reload's or a recycle's) that failed before it served: the old worker keeps serving.
    const incumbent = this.serving().find((o) => o.index === p.index && o.phase === 'ready' && this.isStale(o));
    if (p.readyAt === null && incumbent) {
      const hold = Math.min(this.options.restartDelayMs * 2 ** (this.restartsByIndex.get(p.index) ?? 0), this.options.maxRestartDelayMs);
      this.countRestart(p.index, 'replacement_failed');
      // A replacement that itself failed to boot means the new start-up is broken: the reload is
      // abandoned. One killed by a signal from elsewhere (the OOM killer) is retried: the intent stays.
      const killedFromOutside = signal !== null && p.killedBy === null;
      if (this.reload && p.epoch === this.reload.epoch && !killedFromOutside) {
        this.logger.error(
          `${what} before it became ready${p.bootError ? ` (${p.bootError})` : ''}: reload abandoned, the running workers keep serving`,
        );
        this.reload = null;
        return;
      }
      this.holds.set(
        p.index,
        this.after(hold, () => this.holds.delete(p.index)),
      );
      return this.logger.error(
        `${what} before it became ready${p.bootError ? ` (${p.bootError})` : ''}: the worker it was to replace keeps serving; trying again in ${hold} ms`,
      );
    }
    const reason = p.bootError ? `${what} (its error: ${p.bootError})` : what;
    if (bootErrorHalts({ readyAt: p.readyAt, signal, killedBy: p.killedBy }, this.announcedReady)) {
      this.logger.error(
        `${what} before it became ready during the first start: a boot error; halting instead of restarting it in a loop${p.bootError ? `. Its error: ${p.bootError}` : ''}`,
      );
      return this.halt(EXIT_CODES.WORKER_BOOT_ERROR);
    }
    if (p.stoppedOn) {
      // Not a crash: it stopped on a signal sent to it. Replace it after the usual delay, by when a
      // signal meant for the whole cluster (a terminal's Ctrl-C) has reached this process too.
      this.logger.log(`${what}: it stopped on ${p.stoppedOn}; replacing it in ${this.options.restartDelayMs} ms`);
      return this.scheduleRespawn(p.index, this.options.restartDelayMs);
    }
    this.countRestart(p.index, restartReason(code, signal, p.killedBy));
    const servingNow = this.serving().filter((o) => o.phase === 'ready').length;
    const decision = this.policy.onEnd({ index: p.index, at: this.timers.now(), readyAt: p.readyAt, reason }, this.target, servingNow);
    if (decision.action === 'halt') {
      this.logger.error(`${reason}: ${decision.message}; halting`);
      return this.halt(EXIT_CODES.RESTART_LIMIT);
    }
    const note = decision.unstable ? ` (unstable exit ${decision.unstableCount} of index ${p.index} within restartWindowMs)` : '';
    this.logger.warn(`${reason}; replacing it in ${decision.delayMs} ms${note}`);
    this.scheduleRespawn(p.index, decision.delayMs);
  }

  private scheduleRespawn(index: number, delayMs: number): void {
    this.timers.clearTimeout(this.respawns.get(index));
    this.respawns.set(
      index,
      this.after(delayMs, () => this.respawns.delete(index)),
    );
  }

  private scheduleWatchdog(): void {
    this.watchdogTimer = this.after(this.options.heartbeatIntervalMs, () => this.handleWatchdog());
  }

  /** Kills ready and draining workers whose event loop has not answered for `heartbeatTimeoutMs`. */
  private handleWatchdog(): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    const now = this.timers.now();
    for (const p of this.serving()) {
      // Only a worker that has served beats; a booting one is bounded by bootTimeoutMs instead.
      if (
        p.readyAt === null ||
        (p.phase !== 'ready' && p.phase !== 'draining') ||
        p.killedBy ||
        now - p.lastBeat <= this.options.heartbeatTimeoutMs
      )
        continue;
      this.logger.error(
        `worker ${p.index} (pid ${p.child.pid}) has not answered for ${Math.round(now - p.lastBeat)} ms (hung event loop): killing it`,
      );
      this.kill(p, 'SIGTERM', HUNG);
      this.killLater(p, HUNG);
    }
    this.scheduleWatchdog();
  }

  // ---- stopping -------------------------------------------------------------------------------

  /** Stops everything: workers drain (bounded by `gracefulTimeoutMs`), then the dirs go and the run ends with `code`. */
  private halt(code: number): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.exitCode = code;
    this.state = 'stopping';
    this.queuedReload = null;
    for (const timer of this.respawns.values()) this.timers.clearTimeout(timer);
    this.respawns.clear();
    if (this.preload) {
      this.timers.clearTimeout(this.preload.timer);
      this.kill(this.preload.preloader, 'SIGTERM', 'stopping');
    }
    for (const p of this.procs.values()) {
      this.timers.clearTimeout(p.drainTimer);
      this.timers.clearTimeout(p.bootTimer);
      if (this.preload?.preloader === p) continue;
      if (p.phase === 'draining') continue;
      this.drain(p, 'stopping');
    }
    this.graceTimer = this.after(this.options.gracefulTimeoutMs, () => {
      if (this.state !== 'stopping') return;
      this.logger.warn(`graceful timeout (${this.options.gracefulTimeoutMs} ms) reached: killing what is left`);
      this.killAll('SIGKILL');
    });
  }

  private killAll(signal: NodeJS.Signals): void {
    for (const p of this.procs.values()) this.kill(p, signal, 'stopping');
  }

  private maybeFinish(): void {
    if (this.state !== 'stopping' || this.procs.size > 0) return;
    this.timers.clearTimeout(this.graceTimer);
    this.timers.clearTimeout(this.watchdogTimer);
    if (this.preload) this.timers.clearTimeout(this.preload.timer);
    for (const timer of [...this.respawns.values(), ...this.holds.values()]) this.timers.clearTimeout(timer);
    this.control?.close();
    // The timeline outlives the cluster: how a start that never became ready went is there too.
    this.timers.clearTimeout(this.timelineTimer);
    this.writeTimeline();
    const error = this.host.removeDir(this.clusterDir);
    if (error) this.logger.warn(`could not remove ${this.clusterDir}: ${error}`);
    this.proc.removeSignalListeners();
    this.state = 'stopped';
    this.logger.log(`stopped (exit code ${this.exitCode})`);
    this.hook('onExit', { code: this.exitCode });
    this.resolveDone(this.exitCode);
  }

  /** Removes a generation's dirs once nothing uses it: not current, not being written, no process on it. */
  private dropGenerationIfUnused(generation: Generation | null): void {
    if (!generation || generation === this.current || generation === this.preload?.generation) return;
    if ([...this.procs.values()].some((p) => p.generation === generation || p.waitsFor === generation)) return;
    const error = this.host.removeDir(generation.dir);
    if (error) this.logger.warn(`could not remove ${generation.dir}: ${error}`);
  }

  // ---- what operators see ---------------------------------------------------------------------

  /** A manifest's steps, read once: a manifest does not change after its hand-over (scrapes ask for it each time). */
  private manifestSteps(path: string): StepLine[] {
    if (this.manifestCache?.path === path) return this.manifestCache.steps;
    const steps = this.host.manifestSteps(path);
    // One that could not be read is asked again next time.
    if (steps.length) this.manifestCache = { path, steps };
    return steps;
  }

  /** Epoch ms on the clock the children's spans use. */
  private wall(): number {
    return this.timers.wallClock?.() ?? Date.now();
  }

  /**
   * Changes are written at most every TIMELINE_WRITE_MS — also before the cluster is ready, so that
   * a start that is stuck (an index crash-looping, a boot that hangs) can be looked at while it is.
   */
  private timelineChanged(): void {
    if (!this.timeline || this.timelineTimer !== null || this.state === 'stopping' || this.state === 'stopped') return;
    this.timelineTimer = this.after(TIMELINE_WRITE_MS, () => {
      this.timelineTimer = null;
      this.writeTimeline();
    });
  }

  /** Writes the trace where `nest-preload timeline` reads it; what that costs is counted in the trace. */
  private writeTimeline(): void {
    if (!this.timeline || !this.options.timeline) return;
    const t0 = performance.now();
    const text = JSON.stringify(this.timeline.trace());
    const error = this.host.writeFile(this.options.timeline, text);
    this.timeline.primaryCostMs += performance.now() - t0;
    // Said once: a read-only working dir would otherwise repeat it after every change.
    if (error && !this.timelineWarned) {
      this.timelineWarned = true;
      this.logger.warn(
        `could not write the start-up timeline to ${this.options.timeline}: ${error} (give it a writable path — the timeline option, or NEST_PRELOAD_TIMELINE_FILE where the option is not set — or turn it off: timeline: false, NEST_PRELOAD_TIMELINE_FILE=off)`,
      );
    }
  }

  private procState(p: Proc): WorkerStatus['state'] {
    if (p.phase === 'draining') return 'draining';
    if (p.isPreloader && this.preload?.preloader === p) return 'preloading';
    if (p.phase === 'awaiting') return 'waiting';
    if (p.phase === 'booting')
      return this.serving().some((o) => o !== p && o.index === p.index && o.phase === 'ready') ? 'replacing' : 'starting';
    return 'ready';
  }

  /** The `status` answer: every worker process with its figures, and the current preload's steps. */
  private status(): ClusterStatus {
    const now = this.timers.now();
    const workers = [...this.procs.values()]
      .map((p): WorkerStatus => ({
        index: p.serves ? p.index : -1,
        pid: p.child.pid ?? null,
        state: this.procState(p),
        uptimeMs: Math.round(now - p.spawnedAt),
        startMs: p.readyAt === null ? null : Math.round(p.readyAt - p.spawnedAt),
        handoverWaitMs: p.handoverWaitMs,
        lockWaitMs: this.timeline?.lockWaitMs(p.seq) ?? null,
        restarts: this.restartsByIndex.get(p.index) ?? 0,
        pssMb: p.child.pid ? this.host.pssMb(p.child.pid) : null,
        requests: p.requests,
        generation: p.generation?.id ?? null,
        leader: p === this.leader,
      }))
      .sort((a, b) => a.index - b.index || b.uptimeMs - a.uptimeMs);
    return {
      pid: this.proc.pid,
      state: this.state,
      target: this.target,
      uptimeMs: Math.round(now - this.startedAt),
      primaryPssMb: this.host.pssMb(this.proc.pid),
      workers,
      reload: this.reload
        ? { withPreload: this.reload.withPreload, queued: this.queuedReload !== null }
        : this.queuedReload
          ? { withPreload: this.queuedReload.withPreload, queued: true }
          : null,
      restartsByReason: Object.fromEntries(this.restartsByReason),
      reloads: this.reloadsTotal,
      preload: this.options.preload
        ? {
            generation: this.current?.id ?? null,
            durationMs: this.preloadDurationMs,
            steps: this.current?.manifestPath ? this.withRedos(this.manifestSteps(this.current.manifestPath)) : [],
            running: this.preload ? { generation: this.preload.generation.id, forMs: Math.round(now - this.preload.startedAt) } : null,
          }
        : null,
    };
  }

  /**
   * Adds to each step the preloader did not complete how the ready workers of the current
   * generation ended it when they redid it: `status` then says "redone by 4/4", not only "failed".
   */
  private withRedos(steps: StepLine[]): StepLine[] {
    const workers = this.serving().filter((p) => p.phase === 'ready' && !p.isPreloader && p.generation === this.current);
    return steps.map((step) => {
      if (step.status === 'complete') return step;
      const runs = workers.map((w) => w.ran.find((r) => r.name === step.name)).filter((r) => r !== undefined);
      return { ...step, workers: { of: workers.length, ran: runs.length, complete: runs.filter((r) => r.status === 'complete').length } };
    });
  }

  /** What only the primary knows, for `/health/preload` details and operators. */
  clusterView(): ClusterView {
    const workers = this.serving()
      .filter((p) => p.phase !== 'draining')
      .sort((a, b) => a.index - b.index || a.seq - b.seq);
    return {
      state: this.state,
      workers: workers.map((w) => ({
        index: w.index,
        pid: w.child.pid ?? null,
        ready: w.phase === 'ready',
        leader: w === this.leader,
        requests: w.requests,
        rssMb: w.rssMb,
      })),
      ready: workers.filter((w) => w.phase === 'ready').length,
      target: this.target,
      restarts: this.restartsTotal,
      generation: this.current?.id ?? null,
      preloadDurationMs: this.preloadDurationMs,
    };
  }

  /** Runs a hook; a throwing hook is logged, never fatal. */
  private hook<K extends keyof SupervisorHooks>(name: K, info: Parameters<SupervisorHooks[K]>[0]): void {
    const hook = this.options.hooks[name] as ((i: typeof info) => void) | undefined;
    if (!hook) return;
    try {
      hook(info);
    } catch (error) {
      this.logger.error(`hook ${name} threw: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The `killedBy` of a worker the watchdog killed: its heartbeat stopped. */
const HUNG = 'hung event loop';

/** Why a worker that is restarted ended, as a metric label (see `ClusterStatus.restartsByReason`). */
export function restartReason(code: number | null, signal: NodeJS.Signals | null, killedBy: string | null): string {
  if (killedBy === HUNG) return 'hung';
  if (killedBy === BOOT_TIMEOUT) return 'boot_timeout';
  if (killedBy) return 'killed_by_supervisor';
  if (signal) return 'killed';
  return code === 0 ? 'exited' : 'crashed';
}

/** Says how a child ended, by meaning; a kill the supervisor sent is named as its own. */
export function describeExit(who: string, code: number | null, signal: NodeJS.Signals | null, killedBy: string | null = null): string {
  if (signal && killedBy) return `${who} was killed by ${signal} (by the supervisor: ${killedBy})`;
  if (signal === 'SIGKILL') return `${who} was killed by SIGKILL (not by the supervisor: perhaps out of memory?)`;
  if (signal) return `${who} was killed by ${signal}`;
  if (code === EXIT_CODES.PRELOAD_FAILED) return `${who} exited with code ${code} (preload failed)`;
  if (code === EXIT_CODES.WORKER_BOOT_ERROR) return `${who} exited with code ${code} (it failed to boot)`;
  return `${who} exited with code ${code}`;
}

/** Whether this Node has the module compile cache (22.1+). */
function compileCacheSupported(): boolean {
  return typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function';
}
