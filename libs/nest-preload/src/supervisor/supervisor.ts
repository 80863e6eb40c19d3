import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES, PRELOAD_ENV } from '../preload.constants';
import { removeDir } from '../temp/temp-dirs';
import {
  AWAIT_HANDOVER,
  HANDOVER,
  type HandoverMessage,
  isMessage,
  PRELOAD_DONE,
  type PreloadDoneMessage,
  READY,
  SHUTDOWN,
  STEPS_STARTED,
} from './cluster.messages';
import type { ResolvedSupervisorOptions } from './cluster.options';
import type { ChildHandle, ClusterPort, ProcessPort, SupervisorLogger, TimerPort } from './supervisor.ports';

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
  | { type: 'graceful-timeout' };

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
}

/** A rolling reload in progress: indices still to replace, and the one being replaced. */
interface Reload {
  pending: number[];
  fresh: WorkerSlot | null;
  withPreload: boolean;
  startedAt: number;
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
  private generations = 0;
  private resolveDone: (code: number) => void = () => undefined;

  constructor(
    private readonly options: ResolvedSupervisorOptions,
    private readonly cluster: ClusterPort,
    private readonly proc: ProcessPort,
    private readonly timers: TimerPort,
    private readonly logger: SupervisorLogger,
  ) {}

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
    this.clusterDir = mkdtempSync(join(this.options.runRoot, `nest-preload-${this.proc.pid}-`));
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) this.proc.onSignal(signal, () => this.enqueue({ type: 'signal', signal }));
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
    }
  }

  /** Forks a preloader that writes a new generation. */
  private startPreload(): void {
    this.state = 'preloading';
    const id = randomUUID();
    const dir = join(this.clusterDir, `gen-${++this.generations}`);
    const generation: Generation = { id, dir, runDir: join(dir, 'run'), tempRoot: join(dir, 'tmp'), manifestPath: null };
    for (const d of [dir, generation.runDir, generation.tempRoot]) mkdirSync(d, { mode: 0o700 });
    this.preloading = generation;
    this.preloadResult = null;
    this.preloadStartedAt = this.timers.now();
    const child = this.cluster.fork({
      [PRELOAD_ENV.role]: 'preloader',
      [PRELOAD_ENV.runDir]: generation.runDir,
      [PRELOAD_ENV.tempRoot]: generation.tempRoot,
      [PRELOAD_ENV.generation]: id,
    });
    this.preloader = child;
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
    for (let index = 0; index < this.options.workers; index++) {
      if (!this.workers.has(index) && !this.pendingRespawns.has(index)) this.workers.set(index, this.spawnWorker(index));
    }
  }

  /**
   * Forks a worker for `index`. While a preload runs, a worker waits for its hand-over if it is a
   * reload's replacement (`forNewGeneration`) or if there is no generation yet; a crashed worker is
   * otherwise replaced from the current generation at once.
   */
  private spawnWorker(index: number, forNewGeneration = false): WorkerSlot {
    const env: Record<string, string> = { [PRELOAD_ENV.role]: 'worker', [PRELOAD_ENV.workerIndex]: String(index) };
    let generation: Generation | null = null;
    if (this.state === 'preloading' && (forNewGeneration || !this.current)) {
      env[PRELOAD_ENV.awaitHandover] = '1';
    } else if (this.current?.manifestPath) {
      generation = this.current;
      env[PRELOAD_ENV.manifest] = this.current.manifestPath;
      env[PRELOAD_ENV.generation] = this.current.id;
    }
    const slot: WorkerSlot = { index, child: this.cluster.fork(env), ready: false, generation };
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
    if (isMessage(message, AWAIT_HANDOVER)) {
      if (this.state === 'preloading') this.awaiting.add(slot);
      else if (this.state === 'running') this.sendHandover(slot);
      return;
    }
    if (!isMessage(message, READY) || slot.ready) return;
    slot.ready = true;
    if (this.reload?.fresh === slot) return this.replaceWith(slot);
    if (this.announcedReady || this.state !== 'running') return;
    const ready = [...this.workers.values()].filter((s) => s.ready).length;
    if (ready < this.options.workers) return;
    this.announcedReady = true;
    const mode = this.current ? `preloaded, generation ${this.current.id}` : 'not preloaded';
    this.logger.log(`cluster ready: ${ready}/${this.options.workers} workers (${mode}) in ${Math.round(this.timers.now() - this.startedAt)} ms`);
  }

  /** A worker exited: decide between nothing (we stopped it), a boot error, and a respawn. */
  private reapWorker(slot: WorkerSlot, code: number | null, signal: NodeJS.Signals | null): void {
    const what = describeExit(`worker ${slot.index} (pid ${slot.child.pid})`, code, signal);
    this.awaiting.delete(slot);
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
    const withPreload = this.options.preload && this.options.reloadPreload;
    this.reload = { pending: [...this.workers.keys()].sort((a, b) => a - b), fresh: null, withPreload, startedAt: this.timers.now() };
    this.logger.log(`SIGHUP received: rolling reload of ${this.reload.pending.length} worker(s)${withPreload ? ' with a new preload generation' : ''}`);
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
    if (completed) this.logger.log(`reload complete in ${Math.round(this.timers.now() - reload.startedAt)} ms (${this.current ? `generation ${this.current.id}` : 'not preloaded'})`);
    if (this.reloadQueued && this.state === 'running') {
      this.reloadQueued = false;
      this.handleReload();
    }
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
    const error = removeDir(this.clusterDir);
    if (error) this.logger.warn(`could not remove ${this.clusterDir}: ${error}`);
    this.proc.removeSignalListeners();
    this.state = 'stopped';
    this.logger.log(`stopped (exit code ${this.exitCode})`);
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

/** Says how a child ended, by meaning. */
export function describeExit(who: string, code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGKILL') return `${who} was killed by SIGKILL (perhaps out of memory?)`;
  if (signal) return `${who} was killed by ${signal}`;
  if (code === EXIT_CODES.PRELOAD_FAILED) return `${who} exited with code ${code} (preload failed)`;
  return `${who} exited with code ${code}`;
}
