import nodeModule from 'node:module';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES, PRELOAD_ENV } from '../preload.constants';
import { markOwner, sweepStaleDirs } from '../temp/owner-marker';
import { removeDir } from '../temp/temp-dirs';
import {
  AWAIT_HANDOVER,
  CLUSTER_STATUS,
  CLUSTER_STATUS_REQUEST,
  type ClusterStatusRequest,
  type ClusterView,
  HANDOVER,
  HEARTBEAT,
  type HeartbeatMessage,
  LEADER,
  type HandoverMessage,
  isMessage,
  PRELOAD_DONE,
  type PreloadDoneMessage,
  READY,
  SHUTDOWN,
  STEPS_STARTED,
  STOPPING,
  type StoppingMessage,
} from './cluster.messages';
import type { ResolvedSupervisorOptions } from './cluster.options';
import { ControlServer } from '../control/control-server';
import type { ClusterStatus, ControlRequest, WorkerStatus } from '../control/control.protocol';
import type { SupervisorHooks } from './supervisor.hooks';
import type { ChildHandle, ClusterPort, ProcessPort, SupervisorLogger, TimerPort } from './supervisor.ports';

/** How long a hung worker (one that cannot run its SIGTERM handler) gets before SIGKILL. */
const HUNG_KILL_GRACE_MS = 2_000;

/** The supervisor's lifecycle. */
export type SupervisorState = 'starting' | 'preloading' | 'running' | 'stopping' | 'stopped';

type SupervisorEvent =
  | { type: 'signal'; signal: NodeJS.Signals }
  | { type: 'preloader-message'; message: unknown }
  | { type: 'preloader-exit'; code: number | null; signal: NodeJS.Signals | null }
  | { type: 'preload-timeout' }
  | { type: 'worker-message'; slot: WorkerSlot; message: unknown }
  | { type: 'worker-exit'; slot: WorkerSlot; code: number | null; signal: NodeJS.Signals | null }
  | { type: 'respawn'; index: number }
  | { type: 'graceful-timeout' }
  | { type: 'boot-timeout'; slot: WorkerSlot }
  | { type: 'watchdog' }
  | { type: 'hung-kill'; slot: WorkerSlot }
  | { type: 'control'; request: ControlRequest; respond: (result: unknown, error?: string) => void };

/**
 * One preload's output: its own run dir and temp root inside the cluster dir. It stays until the
 * last worker that started from it is gone.
 */
interface Generation {
  id: string;
  dir: string;
  runDir: string;
  tempRoot: string;
  /** Set once the preloader handed over. */
  manifestPath: string | null;
}

interface WorkerSlot {
  index: number;
  child: ChildHandle;
  ready: boolean;
  /** The generation this worker started from, if any. */
  generation: Generation | null;
  bootTimer: unknown;
  /** When its last heartbeat (or its ready message) came. */
  lastBeat: number;
  requests: number;
  rssMb: number | null;
  /** `maxRequests` plus this worker's jitter. */
  requestLimit: number;
  /** Killed by the watchdog. */
  hung: boolean;
  /** Its process has exited (it may still be in a table until reaped). */
  exited: boolean;
  /** Why it said it was stopping on its own (a signal it received directly), if it did. */
  stoppedOn: string | null;
  spawnedAt: number;
}

/** A rolling reload in progress: indices still to replace, and the one being replaced. */
interface Reload {
  pending: number[];
  fresh: WorkerSlot | null;
  withPreload: boolean;
  startedAt: number;
  /** What it is for: a SIGHUP reload, or recycling one worker. */
  label: string;
}

/**
 * The primary: forks the preloader, then the workers, replaces crashed workers, reloads them one
 * at a time on SIGHUP and stops them gracefully. It never loads the app. Signal handlers and child
 * events only enqueue; `dispatch` handles one event at a time.
 */
export class Supervisor {
  private state: SupervisorState = 'starting';
  private readonly queue: SupervisorEvent[] = [];
  private dispatching = false;
  /** The serving worker of each index. */
  private readonly workers = new Map<number, WorkerSlot>();
  /** Workers being drained after a replacement took their index. */
  private readonly retiring = new Set<WorkerSlot>();
  /** How many times each worker index has crashed, for the backoff. */
  private readonly crashes = new Map<number, number>();
  private readonly pendingRespawns = new Map<number, unknown>();
  private preloader: ChildHandle | null = null;
  private preloadResult: PreloadDoneMessage | null = null;
  private preloadTimer: unknown = null;
  private preloadStartedAt = 0;
  /** The generation the running preload is writing. */
  private preloading: Generation | null = null;
  /** The generation new workers start from; null when preload is off or was abandoned. */
  private current: Generation | null = null;
  /** Why the last preload was abandoned. */
  private abandonReason: string | null = null;
  /** Pipelined start: workers that asked for the hand-over before the preload ended. */
  private readonly awaiting = new Set<WorkerSlot>();
  private reload: Reload | null = null;
  private reloadQueued = false;
  private graceTimer: unknown = null;
  private startedAt = 0;
  private announcedReady = false;
  private exitCode: number = EXIT_CODES.OK;
  private clusterDir = '';
  /** NODE_COMPILE_CACHE of the children (Node ≥ 22.1 with `compileCache`), or null. */
  private compileCacheDir: string | null = null;
  private generations = 0;
  /** How many workers the cluster should run (SIGTTIN/SIGTTOU change it). */
  private target: number;
  /** When workers crashed, for `maxRestarts` within `restartWindowMs`. */
  private crashTimes: number[] = [];
  private restartsTotal = 0;
  private lastCrashAt = new Map<number, number>();
  private leader: WorkerSlot | null = null;
  private watchdogTimer: unknown = null;
  private preloadDurationMs: number | null = null;
  private readonly random: () => number = Math.random;
  private control: ControlServer | null = null;
  /** Crashes per index since the start (for `status`). */
  private readonly restartsByIndex = new Map<number, number>();
  /** A reload asked for over the control socket may want a new preload whatever `reloadPreload` says. */
  private reloadPreloadOnce: boolean | null = null;
  private resolveDone: (code: number) => void = () => undefined;

  constructor(
    private readonly options: ResolvedSupervisorOptions,
    private readonly cluster: ClusterPort,
    private readonly proc: ProcessPort,
    private readonly timers: TimerPort,
    private readonly logger: SupervisorLogger,
  ) {
    this.target = options.workers;
  }

  /** The current state, for tests and health. */
  get currentState(): SupervisorState {
    return this.state;
  }

  /** Pids of the serving workers by index. */
  workerPids(): Map<number, number | undefined> {
    return new Map([...this.workers].map(([i, s]) => [i, s.child.pid]));
  }

  /** Starts the cluster; resolves with the exit code once it has stopped. */
  run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.resolveDone = resolve));
    this.startedAt = this.timers.now();
    // What a killed cluster left (its dir, its workers' temp dirs) goes now, and only that.
    const swept = [...new Set([this.options.runRoot, ...this.options.sweepRoots])].flatMap((root) => sweepStaleDirs(root));
    if (swept.length) this.logger.log(`swept ${swept.length} dir(s) left by processes that are gone: ${swept.join(', ')}`);
    this.clusterDir = mkdtempSync(join(this.options.runRoot, `nest-preload-${this.proc.pid}-`));
    markOwner(this.clusterDir);
    if (this.options.compileCache && compileCacheSupported()) {
      this.compileCacheDir = join(this.clusterDir, 'compile-cache');
      mkdirSync(this.compileCacheDir, { mode: 0o700 });
    }
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const) this.proc.onSignal(signal, () => this.enqueue({ type: 'signal', signal }));
    this.hook('onStarting', undefined);
    if (this.options.controlFile) {
      this.control = new ControlServer(
        join(this.clusterDir, 'control.sock'),
        this.options.controlFile,
        (request) => new Promise((resolve, reject) => this.enqueue({ type: 'control', request, respond: (result, error) => (error ? reject(new Error(error)) : resolve(result)) })),
        (message) => this.logger.warn(message),
      );
      this.control.start().catch((error: Error) => this.logger.error(`the control socket could not start (${error.message}); the CLI cannot reach this cluster`));
    }
    if (this.options.heartbeatTimeoutMs > 0) this.scheduleWatchdog();
    this.logger.log(`starting ${this.options.workers} worker(s), preload ${this.options.preload ? `on (${this.options.preloadStart})` : 'off'}`);
    if (this.options.preload) this.startPreload();
    else this.enterRunning();
    return done;
  }

  private enqueue(event: SupervisorEvent): void {
    this.queue.push(event);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) this.dispatch(next);
    } finally {
      this.dispatching = false;
    }
  }

  private dispatch(event: SupervisorEvent): void {
    switch (event.type) {
      case 'signal': return this.handleSignal(event.signal);
      case 'preloader-message': return this.handlePreloaderMessage(event.message);
      case 'preloader-exit': return this.handlePreloaderExit(event.code, event.signal);
      case 'preload-timeout': return this.handlePreloadTimeout();
      case 'worker-message': return this.handleWorkerMessage(event.slot, event.message);
      case 'worker-exit': return this.reapWorker(event.slot, event.code, event.signal);
      case 'respawn': return this.handleRespawn(event.index);
      case 'graceful-timeout': return this.handleGracefulTimeout();
      case 'boot-timeout': return this.handleBootTimeout(event.slot);
      case 'watchdog': return this.handleWatchdog();
      case 'hung-kill': return event.slot.child.kill('SIGKILL');
      case 'control': return this.handleControl(event.request, event.respond);
    }
  }

  /** A command from the control socket (the `nest-preload` CLI). */
  private handleControl(request: ControlRequest, respond: (result: unknown, error?: string) => void): void {
    switch (request.cmd) {
      case 'status':
        return respond(this.status());
      case 'reload': {
        if (this.state !== 'running' && this.state !== 'preloading') return respond(null, `cannot reload while ${this.state}`);
        const queued = this.reload !== null || this.state !== 'running';
        if (!queued) this.reloadPreloadOnce = request.preload ?? null;
        this.handleReload();
        return respond({ reloading: true, queued, workers: this.workers.size });
      }
      case 'scale': {
        if (this.state !== 'running' && this.state !== 'preloading') return respond(null, `cannot scale while ${this.state}`);
        const from = this.target;
        while (this.target < request.workers) this.handleScale(1);
        while (this.target > request.workers) this.handleScale(-1);
        return respond({ from, to: this.target });
      }
      case 'stop':
        respond({ stopping: true, pid: this.proc.pid });
        this.logger.log('stop asked over the control socket');
        return this.halt(EXIT_CODES.OK);
    }
  }

  /** The `status` answer: every worker process with its figures, and the current preload's steps. */
  private status(): ClusterStatus {
    const now = this.timers.now();
    const line = (slot: WorkerSlot, state: WorkerStatus['state']): WorkerStatus => ({
      index: slot.index,
      pid: slot.child.pid ?? null,
      state,
      uptimeMs: Math.round(now - slot.spawnedAt),
      restarts: this.restartsByIndex.get(slot.index) ?? 0,
      pssMb: slot.child.pid ? pssMb(slot.child.pid) : null,
      requests: slot.requests,
      generation: slot.generation?.id ?? null,
      leader: slot === this.leader,
    });
    const workers = [
      ...[...this.workers.values()].map((s) => line(s, s.ready ? 'ready' : 'starting')),
      ...(this.reload?.fresh ? [line(this.reload.fresh, 'replacing')] : []),
      ...[...this.retiring].map((s) => line(s, 'draining')),
    ].sort((a, b) => a.index - b.index || a.uptimeMs - b.uptimeMs);
    let steps: NonNullable<ClusterStatus['preload']>['steps'] = [];
    if (this.current?.manifestPath) {
      try {
        const manifest = JSON.parse(readFileSync(this.current.manifestPath, 'utf8')) as { steps: typeof steps };
        steps = manifest.steps.map(({ name, status, ranIn, durationMs, critical }) => ({ name, status, ranIn, durationMs, critical }));
      } catch {
        steps = [];
      }
    }
    return {
      pid: this.proc.pid,
      state: this.state,
      target: this.target,
      uptimeMs: Math.round(now - this.startedAt),
      primaryPssMb: pssMb(this.proc.pid),
      workers,
      preload: this.options.preload ? { generation: this.current?.id ?? null, durationMs: this.preloadDurationMs, steps } : null,
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

  private compileCacheEnv(): Record<string, string> {
    return this.compileCacheDir ? { NODE_COMPILE_CACHE: this.compileCacheDir } : {};
  }

  /** Forks a preloader that writes a new generation. */
  private startPreload(): void {
    this.state = 'preloading';
    const id = randomUUID();
    const dir = join(this.clusterDir, `gen-${++this.generations}`);
    const generation: Generation = { id, dir, runDir: join(dir, 'run'), tempRoot: join(dir, 'tmp'), manifestPath: null };
    for (const d of [dir, generation.runDir, generation.tempRoot]) mkdirSync(d, { mode: 0o700 });
    markOwner(dir, id);
    this.preloading = generation;
    this.preloadResult = null;
    this.preloadStartedAt = this.timers.now();
    this.hook('preFork', { role: 'preloader', index: null });
    const child = this.cluster.fork({
      [PRELOAD_ENV.role]: 'preloader',
      [PRELOAD_ENV.runDir]: generation.runDir,
      [PRELOAD_ENV.tempRoot]: generation.tempRoot,
      [PRELOAD_ENV.generation]: id,
      ...this.compileCacheEnv(),
    });
    this.preloader = child;
    this.hook('postFork', { role: 'preloader', index: null, pid: child.pid });
    this.logger.log(`preloader started (pid ${child.pid}, generation ${id})`);
    child.onMessage((message) => this.enqueue({ type: 'preloader-message', message }));
    child.onExit((code, signal) => this.enqueue({ type: 'preloader-exit', code, signal }));
    this.preloadTimer = this.timers.setTimeout(() => this.enqueue({ type: 'preload-timeout' }), this.options.preloadTimeoutMs);
  }

  private handlePreloaderMessage(message: unknown): void {
    if (isMessage(message, STEPS_STARTED) && this.state === 'preloading' && this.options.preloadStart === 'pipelined') {
      // Pipelined: workers build their apps while the steps run, and ask for the hand-over when built.
      return this.reload ? this.reloadNext() : this.manageWorkers();
    }
    if (!isMessage<PreloadDoneMessage>(message, PRELOAD_DONE)) return;
    this.preloadResult = message;
    // The hand-over is complete once the manifest is written (after the preloader's teardown):
    // the workers need not wait for its process to exit.
    if (message.ok && message.manifestPath && this.state === 'preloading') this.finishPreload(null);
  }

  private handlePreloadTimeout(): void {
    if (!this.preloader) return;
    this.logger.warn(`the preloader did not finish within ${this.options.preloadTimeoutMs} ms: killing it; workers will run the full start-up`);
    this.preloadResult = { type: PRELOAD_DONE, ok: false, manifestPath: null, reason: `timed out after ${this.options.preloadTimeoutMs} ms`, lingering: [] };
    this.preloader.kill('SIGKILL');
  }

  private handlePreloaderExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.preloader = null;
    if (this.state === 'stopping') return this.maybeFinish();
    if (this.state !== 'preloading') {
      // It had handed over already; only an unclean exit is worth a word.
      if (code !== 0) this.logger.warn(`${describeExit('the preloader', code, signal)} after handing over`);
      return;
    }
    this.finishPreload(this.preloadResult?.reason ?? describeExit('the preloader', code, signal));
  }

  /** Ends the preloading state: with the hand-over (`failure` null) or falling back; then the workers go on. */
  private finishPreload(failure: string | null): void {
    this.timers.clearTimeout(this.preloadTimer);
    const tookMs = Math.round(this.timers.now() - this.preloadStartedAt);
    this.preloadDurationMs = tookMs;
    const generation = this.preloading as Generation;
    this.preloading = null;
    const previous = this.current;
    const manifestPath = this.preloadResult?.manifestPath;
    if (failure === null && manifestPath) {
      generation.manifestPath = manifestPath;
      this.current = generation;
      if (this.preloadResult?.lingering.length) this.logger.warn(`the preloader exited with handles still open: ${this.preloadResult.lingering.join(', ')}`);
      this.logger.log(`preload complete in ${tookMs} ms (generation ${generation.id})`);
    } else {
      const why = failure ?? 'the preloader reported no hand-over';
      this.logger.warn(`preload abandoned after ${tookMs} ms (${why}); workers will run the full start-up`);
      this.current = null;
      this.abandonReason = why;
      this.dropGeneration(generation);
    }
    if (previous && previous !== this.current) this.dropGenerationIfUnused(previous);
    this.state = 'running';
    for (const slot of this.awaiting) this.sendHandover(slot);
    this.awaiting.clear();
    if (this.reload) this.reloadNext();
    else this.manageWorkers();
  }

  /** Tells a waiting worker the preload's outcome. */
  private sendHandover(slot: WorkerSlot): void {
    const answer: HandoverMessage = this.current?.manifestPath
      ? { type: HANDOVER, ok: true, manifestPath: this.current.manifestPath, generation: this.current.id }
      : { type: HANDOVER, ok: false, reason: this.abandonReason ?? 'preload is off' };
    slot.generation = this.current;
    slot.child.send(answer);
  }

  private enterRunning(): void {
    this.state = 'running';
    this.manageWorkers();
  }

  /** Makes sure every worker index has a live worker or a scheduled respawn. */
  private manageWorkers(): void {
    // First pipelined start: at most pipelineConcurrency workers build their apps beside the
    // preloader; each one that is built and waiting for the hand-over makes room for the next.
    const staged = this.state === 'preloading' && this.options.preloadStart === 'pipelined' && !this.current;
    let booting = staged ? [...this.workers.values()].filter((s) => !s.ready && !this.awaiting.has(s)).length : 0;
    for (let index = 0; index < this.target; index++) {
      if (staged && booting >= this.options.pipelineConcurrency) return;
      if (!this.workers.has(index) && !this.pendingRespawns.has(index)) {
        this.workers.set(index, this.spawnWorker(index));
        booting++;
      }
    }
  }

  /**
   * Forks a worker for `index`. While a preload runs, a worker waits for its hand-over if it is a
   * reload's replacement (`forNewGeneration`) or if there is no generation yet; a crashed worker is
   * otherwise replaced from the current generation at once.
   */
  private spawnWorker(index: number, forNewGeneration = false): WorkerSlot {
    const env: Record<string, string> = { [PRELOAD_ENV.role]: 'worker', [PRELOAD_ENV.workerIndex]: String(index), ...this.compileCacheEnv() };
    let generation: Generation | null = null;
    if (this.state === 'preloading' && (forNewGeneration || !this.current)) {
      env[PRELOAD_ENV.awaitHandover] = '1';
    } else if (this.current?.manifestPath) {
      generation = this.current;
      env[PRELOAD_ENV.manifest] = this.current.manifestPath;
      env[PRELOAD_ENV.generation] = this.current.id;
    }
    if (this.options.heartbeatTimeoutMs > 0) env[PRELOAD_ENV.heartbeatMs] = String(this.options.heartbeatIntervalMs);
    this.hook('preFork', { role: 'worker', index });
    const child = this.cluster.fork(env, this.options.workerExecArgv);
    this.hook('postFork', { role: 'worker', index, pid: child.pid });
    const requestLimit = this.options.maxRequests > 0 ? this.options.maxRequests + Math.floor(this.random() * (this.options.maxRequestsJitter + 1)) : Infinity;
    const slot: WorkerSlot = { index, child, ready: false, generation, bootTimer: null, lastBeat: 0, requests: 0, rssMb: null, requestLimit, hung: false, exited: false, stoppedOn: null, spawnedAt: this.timers.now() };
    slot.bootTimer = this.timers.setTimeout(() => this.enqueue({ type: 'boot-timeout', slot }), this.options.bootTimeoutMs);
    slot.child.onMessage((message) => this.enqueue({ type: 'worker-message', slot, message }));
    slot.child.onExit((code, signal) => this.enqueue({ type: 'worker-exit', slot, code, signal }));
    return slot;
  }

  /** True for the serving worker of its index and for a replacement being started. */
  private isCurrent(slot: WorkerSlot): boolean {
    return this.workers.get(slot.index) === slot || this.reload?.fresh === slot;
  }

  private handleWorkerMessage(slot: WorkerSlot, message: unknown): void {
    if (!this.isCurrent(slot)) return;
    // Every message of ours is checked against its shape; anything else on the channel is ignored.
    if (!validWorkerMessage(message)) {
      if (isOurs(message)) this.logger.warn(`worker ${slot.index} (pid ${slot.child.pid}) sent a malformed ${String((message as { type: unknown }).type).slice(0, 64)} message: ignored`);
      return;
    }
    if (isMessage(message, AWAIT_HANDOVER)) {
      if (this.state === 'preloading') {
        this.awaiting.add(slot);
        if (!this.reload) this.manageWorkers();
      } else if (this.state === 'running') this.sendHandover(slot);
      return;
    }
    if (isMessage<HeartbeatMessage>(message, HEARTBEAT)) return this.handleHeartbeat(slot, message);
    if (isMessage<StoppingMessage>(message, STOPPING)) {
      slot.stoppedOn = String(message.reason).slice(0, 32);
      return;
    }
    if (isMessage<ClusterStatusRequest>(message, CLUSTER_STATUS_REQUEST)) {
      return slot.child.send({ type: CLUSTER_STATUS, id: message.id, view: this.clusterView() });
    }
    if (!isMessage(message, READY) || slot.ready) return;
    slot.ready = true;
    slot.lastBeat = this.timers.now();
    this.timers.clearTimeout(slot.bootTimer);
    this.hook('workerReady', { index: slot.index, pid: slot.child.pid });
    if (this.reload?.fresh === slot) return this.replaceWith(slot);
    this.electLeader();
    if (this.announcedReady || this.state !== 'running') return;
    const ready = [...this.workers.values()].filter((s) => s.ready).length;
    if (ready < this.target) return;
    this.announcedReady = true;
    const readyMs = Math.round(this.timers.now() - this.startedAt);
    const mode = this.current ? `preloaded, generation ${this.current.id}` : 'not preloaded';
    this.logger.log(`cluster ready: ${ready}/${this.target} workers (${mode}) in ${readyMs} ms`);
    this.hook('whenReady', { workers: ready, generation: this.current?.id ?? null, readyMs });
  }

  /** What only the primary knows, for `/health/preload` details and operators. */
  clusterView(): ClusterView {
    const workers = [...this.workers.values()].sort((a, b) => a.index - b.index);
    return {
      state: this.state,
      workers: workers.map((w) => ({ index: w.index, pid: w.child.pid ?? null, ready: w.ready, leader: w === this.leader, requests: w.requests, rssMb: w.rssMb })),
      ready: workers.filter((w) => w.ready).length,
      target: this.target,
      restarts: this.restartsTotal,
      generation: this.current?.id ?? null,
      preloadDurationMs: this.preloadDurationMs,
    };
  }

  /** A heartbeat: the worker's event loop runs. Also where recycling is decided. */
  private handleHeartbeat(slot: WorkerSlot, beat: HeartbeatMessage): void {
    slot.lastBeat = this.timers.now();
    slot.requests = beat.requests;
    slot.rssMb = beat.rssMb;
    if (!slot.ready || this.workers.get(slot.index) !== slot) return;
    if (slot.requests >= slot.requestLimit) return this.recycle(slot, `served ${slot.requests} requests (maxRequests ${this.options.maxRequests})`);
    if (this.options.maxRssMb > 0 && beat.rssMb > this.options.maxRssMb) return this.recycle(slot, `RSS ${beat.rssMb} MB is over maxRssMb ${this.options.maxRssMb}`);
  }

  /** Replaces one worker gracefully (a replacement first, then a drain) — unless a reload runs: then at a later heartbeat. */
  private recycle(slot: WorkerSlot, why: string): void {
    if (this.reload || this.state !== 'running') return;
    this.logger.log(`recycling worker ${slot.index} (pid ${slot.child.pid}): ${why}`);
    this.reload = { pending: [slot.index], fresh: null, withPreload: false, startedAt: this.timers.now(), label: `recycle of worker ${slot.index}` };
    this.reloadNext();
  }

  /** The lowest-index ready worker leads (run-once jobs); a new leader is told when the old one goes. */
  private electLeader(): void {
    if (this.leader && !this.leader.exited && this.workers.get(this.leader.index) === this.leader) return;
    const next = [...this.workers.values()].filter((w) => w.ready && !w.exited).sort((a, b) => a.index - b.index)[0] ?? null;
    if (next === this.leader) return;
    if (this.leader && !this.leader.exited) this.leader.child.send({ type: LEADER, leader: false });
    this.leader = next;
    if (next) {
      next.child.send({ type: LEADER, leader: true });
      this.logger.log(`worker ${next.index} (pid ${next.child.pid}) is the leader`);
    }
  }

  private handleBootTimeout(slot: WorkerSlot): void {
    if (slot.ready || this.state === 'stopping') return;
    this.logger.error(`worker ${slot.index} (pid ${slot.child.pid}) was not ready within bootTimeoutMs (${this.options.bootTimeoutMs} ms): killing it`);
    slot.child.kill('SIGKILL');
  }

  private scheduleWatchdog(): void {
    this.watchdogTimer = this.timers.setTimeout(() => this.enqueue({ type: 'watchdog' }), this.options.heartbeatIntervalMs);
  }

  /** Kills ready workers whose event loop has not answered for `heartbeatTimeoutMs`. */
  private handleWatchdog(): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    const now = this.timers.now();
    for (const slot of [...this.workers.values(), ...this.retiring]) {
      if (!slot.ready || slot.hung || now - slot.lastBeat <= this.options.heartbeatTimeoutMs) continue;
      slot.hung = true;
      this.logger.error(`worker ${slot.index} (pid ${slot.child.pid}) has not answered for ${Math.round(now - slot.lastBeat)} ms (hung event loop): killing it`);
      slot.child.kill('SIGTERM');
      this.timers.setTimeout(() => this.enqueue({ type: 'hung-kill', slot }), HUNG_KILL_GRACE_MS);
    }
    this.scheduleWatchdog();
  }

  /** A worker exited: decide between nothing (we stopped it), a boot error, and a respawn. */
  private reapWorker(slot: WorkerSlot, code: number | null, signal: NodeJS.Signals | null): void {
    const what = describeExit(`worker ${slot.index} (pid ${slot.child.pid})`, code, signal) + (slot.hung ? ' after it hung' : '');
    slot.exited = true;
    this.timers.clearTimeout(slot.bootTimer);
    this.awaiting.delete(slot);
    const expected = this.retiring.has(slot) || this.state === 'stopping' || slot.stoppedOn !== null;
    this.hook('workerExit', { index: slot.index, pid: slot.child.pid, code, signal, expected });
    if (this.leader === slot) {
      this.leader = null;
      if (this.state !== 'stopping') this.electLeader();
    }
    if (this.retiring.delete(slot)) {
      this.logger.log(`${what} (replaced)`);
      this.dropGenerationIfUnused(slot.generation);
      if (this.state === 'stopping') return this.maybeFinish();
      return this.reloadNext();
    }
    if (this.reload?.fresh === slot) {
      this.reload.fresh = null;
      if (this.state === 'stopping') return this.maybeFinish();
      this.logger.error(`${what} before it became ready: reload abandoned, the running workers keep serving`);
      return this.endReload(false);
    }
    if (this.workers.get(slot.index) !== slot) return;
    this.workers.delete(slot.index);
    this.dropGenerationIfUnused(slot.generation);
    if (this.state === 'stopping') {
      this.logger.log(what);
      return this.maybeFinish();
    }
    if (!slot.ready) {
      this.logger.error(`${what} before it became ready: a boot error; halting instead of restarting it in a loop`);
      return this.halt(EXIT_CODES.WORKER_BOOT_ERROR);
    }
    // The replacement being started for this index will take it over.
    if (this.reload?.fresh?.index === slot.index) return this.logger.warn(`${what} while being replaced`);
    if (slot.stoppedOn) {
      // Not a crash: it stopped on a signal sent to it. Replace it after the usual delay, by when a
      // signal meant for the whole cluster (a terminal's Ctrl-C) has reached this process too.
      this.logger.log(`${what}: it stopped on ${slot.stoppedOn}; replacing it in ${this.options.restartDelayMs} ms`);
      this.pendingRespawns.set(slot.index, this.timers.setTimeout(() => this.enqueue({ type: 'respawn', index: slot.index }), this.options.restartDelayMs));
      return;
    }
    const now = this.timers.now();
    this.restartsTotal++;
    this.restartsByIndex.set(slot.index, (this.restartsByIndex.get(slot.index) ?? 0) + 1);
    this.crashTimes = [...this.crashTimes.filter((t) => now - t < this.options.restartWindowMs), now];
    if (this.crashTimes.length > this.options.maxRestarts) {
      this.logger.error(`${what}: ${this.crashTimes.length} worker crashes within ${this.options.restartWindowMs} ms (maxRestarts ${this.options.maxRestarts}); halting`);
      return this.halt(EXIT_CODES.RESTART_LIMIT);
    }
    // A worker that ran a whole window without crashing starts its backoff over.
    if (now - (this.lastCrashAt.get(slot.index) ?? -Infinity) >= this.options.restartWindowMs) this.crashes.delete(slot.index);
    this.lastCrashAt.set(slot.index, now);
    const crashes = (this.crashes.get(slot.index) ?? 0) + 1;
    this.crashes.set(slot.index, crashes);
    const delayMs = Math.min(this.options.restartDelayMs * 2 ** (crashes - 1), this.options.maxRestartDelayMs);
    this.logger.warn(`${what}; replacing it in ${delayMs} ms`);
    this.pendingRespawns.set(slot.index, this.timers.setTimeout(() => this.enqueue({ type: 'respawn', index: slot.index }), delayMs));
  }

  private handleRespawn(index: number): void {
    this.pendingRespawns.delete(index);
    if ((this.state === 'running' || this.state === 'preloading') && !this.workers.has(index)) this.workers.set(index, this.spawnWorker(index));
  }

  private handleSignal(signal: NodeJS.Signals): void {
    if (signal === 'SIGHUP') return this.handleReload();
    if (signal === 'SIGTTIN' || signal === 'SIGTTOU') return this.handleScale(signal === 'SIGTTIN' ? 1 : -1);
    if (this.state === 'stopping') {
      this.logger.warn(`${signal} again while stopping: killing every child now`);
      return this.killAll('SIGKILL');
    }
    this.logger.log(`${signal} received: stopping gracefully (up to ${this.options.gracefulTimeoutMs} ms)`);
    this.halt(EXIT_CODES.OK);
  }

  /** SIGHUP: replace every worker, one at a time; a SIGHUP during a reload is queued, not interleaved. */
  private handleReload(): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    if (this.reload || this.state !== 'running') {
      this.reloadQueued = true;
      return this.logger.log('SIGHUP received during a reload or the start-up: queued');
    }
    const withPreload = this.options.preload && (this.reloadPreloadOnce ?? this.options.reloadPreload);
    this.reloadPreloadOnce = null;
    this.reload = { pending: [...this.workers.keys()].sort((a, b) => a - b), fresh: null, withPreload, startedAt: this.timers.now(), label: 'reload' };
    this.logger.log(`SIGHUP received: rolling reload of ${this.reload.pending.length} worker(s)${withPreload ? ' with a new preload generation' : ''}`);
    this.hook('onReload', { workers: this.reload.pending.length, withPreload });
    if (withPreload) {
      this.startPreload();
      // Serial: the first replacement waits for the preload; pipelined: for its steps to start.
      return;
    }
    this.reloadNext();
  }

  /** Starts the replacement of the next index, unless one is under way. */
  private reloadNext(): void {
    const reload = this.reload;
    if (!reload || reload.fresh || this.retiring.size > 0 || this.state === 'stopping') return;
    if (this.state === 'preloading' && this.options.preloadStart === 'serial') return;
    const index = reload.pending.shift();
    if (index === undefined) return this.endReload(true);
    reload.fresh = this.spawnWorker(index, true);
  }

  /** The replacement of an index is ready: it serves, and the old worker drains. */
  private replaceWith(fresh: WorkerSlot): void {
    const reload = this.reload as Reload;
    reload.fresh = null;
    const old = this.workers.get(fresh.index);
    this.workers.set(fresh.index, fresh);
    this.crashes.delete(fresh.index);
    if (!old) return this.reloadNext();
    this.logger.log(`worker ${fresh.index} replaced: pid ${old.child.pid} → ${fresh.child.pid}; draining the old one`);
    this.retiring.add(old);
    this.killWorker(old);
  }

  private endReload(completed: boolean): void {
    const reload = this.reload as Reload;
    this.reload = null;
    if (completed) this.logger.log(`${reload.label} complete in ${Math.round(this.timers.now() - reload.startedAt)} ms (${this.current ? `generation ${this.current.id}` : 'not preloaded'})`);
    if (this.reloadQueued && this.state === 'running') {
      this.reloadQueued = false;
      this.handleReload();
    }
  }

  /** SIGTTIN adds a worker, SIGTTOU drains the highest-index one (never below one). */
  private handleScale(delta: 1 | -1): void {
    if (this.state !== 'running' && this.state !== 'preloading') return;
    if (delta < 0 && this.target <= 1) return this.logger.warn('SIGTTOU ignored: the cluster keeps at least one worker');
    this.target += delta;
    this.logger.log(`${delta > 0 ? 'SIGTTIN' : 'SIGTTOU'}: scaling to ${this.target} worker(s)`);
    if (delta > 0) return this.manageWorkers();
    const index = this.target;
    const timer = this.pendingRespawns.get(index);
    if (timer !== undefined) {
      this.timers.clearTimeout(timer);
      this.pendingRespawns.delete(index);
    }
    const slot = this.workers.get(index);
    if (!slot) return;
    this.workers.delete(index);
    this.retiring.add(slot);
    this.killWorker(slot);
    if (this.leader === slot) this.electLeader();
  }

  /** Stops everything: workers drain (bounded), then the dirs are removed and the run ends with `code`. */
  private halt(code: number): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.exitCode = code;
    this.state = 'stopping';
    for (const timer of this.pendingRespawns.values()) this.timers.clearTimeout(timer);
    this.pendingRespawns.clear();
    this.preloader?.kill('SIGTERM');
    for (const slot of this.children()) this.killWorker(slot);
    this.graceTimer = this.timers.setTimeout(() => this.enqueue({ type: 'graceful-timeout' }), this.options.gracefulTimeoutMs);
    this.maybeFinish();
  }

  /** Every worker process: serving, retiring, and a replacement being started. */
  private children(): WorkerSlot[] {
    return [...this.workers.values(), ...this.retiring, ...(this.reload?.fresh ? [this.reload.fresh] : [])];
  }

  /** Asks a worker to drain and exit (it also handles SIGTERM the same way). */
  private killWorker(slot: WorkerSlot): void {
    slot.child.send({ type: SHUTDOWN });
  }

  private handleGracefulTimeout(): void {
    if (this.state !== 'stopping') return;
    this.logger.warn(`graceful timeout (${this.options.gracefulTimeoutMs} ms) reached: killing what is left`);
    this.killAll('SIGKILL');
  }

  private killAll(signal: NodeJS.Signals): void {
    this.preloader?.kill(signal);
    for (const slot of this.children()) slot.child.kill(signal);
  }

  private maybeFinish(): void {
    if (this.state !== 'stopping' || this.children().length > 0 || this.preloader) return;
    this.timers.clearTimeout(this.graceTimer);
    this.timers.clearTimeout(this.watchdogTimer);
    this.control?.close();
    const error = removeDir(this.clusterDir);
    if (error) this.logger.warn(`could not remove ${this.clusterDir}: ${error}`);
    this.proc.removeSignalListeners();
    this.state = 'stopped';
    this.logger.log(`stopped (exit code ${this.exitCode})`);
    this.hook('onExit', { code: this.exitCode });
    this.resolveDone(this.exitCode);
  }

  /** Removes a generation's dirs once nothing uses it: not current, not being written, no worker on it. */
  private dropGenerationIfUnused(generation: Generation | null): void {
    if (!generation || generation === this.current || generation === this.preloading) return;
    if (this.children().some((s) => s.generation === generation)) return;
    this.dropGeneration(generation);
  }

  private dropGeneration(generation: Generation): void {
    const error = removeDir(generation.dir);
    if (error) this.logger.warn(`could not remove ${generation.dir}: ${error}`);
  }
}

const isOurs = (m: unknown): boolean => typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith('nest-preload:');
const count = (v: unknown, max: number) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= max;

/** The shape of each message a worker may send the primary. Not ours, or malformed: false. */
function validWorkerMessage(m: unknown): boolean {
  if (!isOurs(m)) return false;
  const msg = m as Record<string, unknown>;
  switch (msg.type) {
    case READY: return count(msg.pid, 2 ** 31);
    case AWAIT_HANDOVER: return true;
    case HEARTBEAT: return count(msg.requests, Number.MAX_SAFE_INTEGER) && count(msg.rssMb, 2 ** 24);
    case CLUSTER_STATUS_REQUEST: return Number.isInteger(msg.id);
    case STOPPING: return typeof msg.reason === 'string' && msg.reason.length <= 64;
    default: return false;
  }
}

/** PSS of a process in MB (Linux /proc), or null where it cannot be read. */
function pssMb(pid: number): number | null {
  try {
    const kb = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1];
    return kb ? Math.round(Number(kb) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

/** Says how a child ended, by meaning. */
export function describeExit(who: string, code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGKILL') return `${who} was killed by SIGKILL (perhaps out of memory?)`;
  if (signal) return `${who} was killed by ${signal}`;
  if (code === EXIT_CODES.PRELOAD_FAILED) return `${who} exited with code ${code} (preload failed)`;
  return `${who} exited with code ${code}`;
}

/** Whether this Node has the module compile cache (22.1+). */
function compileCacheSupported(): boolean {
  return typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function';
}
