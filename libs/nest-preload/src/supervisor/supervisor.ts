import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
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
  type ReadyMessage,
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

interface WorkerSlot {
  index: number;
  child: ChildHandle;
  ready: boolean;
}

interface Handover {
  manifestPath: string;
  generation: string;
}

/**
 * The primary: forks the preloader, then the workers, replaces crashed workers and stops them
 * gracefully. It never loads the app. Signal handlers and child events only enqueue; `dispatch`
 * handles one event at a time.
 */
export class Supervisor {
  private state: SupervisorState = 'starting';
  private readonly queue: SupervisorEvent[] = [];
  private dispatching = false;
  private readonly workers = new Map<number, WorkerSlot>();
  /** How many times each worker index has crashed, for the backoff. */
  private readonly crashes = new Map<number, number>();
  private readonly pendingRespawns = new Map<number, unknown>();
  private preloader: ChildHandle | null = null;
  private preloadResult: PreloadDoneMessage | null = null;
  private preloadTimer: unknown = null;
  private preloadStartedAt = 0;
  private handover: Handover | null = null;
  /** Why the preload was abandoned, once it was. */
  private abandonReason: string | null = null;
  /** Pipelined start: workers that asked for the hand-over before the preload ended. */
  private readonly awaiting = new Set<WorkerSlot>();
  private graceTimer: unknown = null;
  private startedAt = 0;
  private announcedReady = false;
  private exitCode: number = EXIT_CODES.OK;
  private clusterDir = '';
  private runDir = '';
  private tempRoot = '';
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

  /** Pids of the live workers by index. */
  workerPids(): Map<number, number | undefined> {
    return new Map([...this.workers].map(([i, s]) => [i, s.child.pid]));
  }

  /** Starts the cluster; resolves with the exit code once it has stopped. */
  run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.resolveDone = resolve));
    this.startedAt = this.timers.now();
    this.clusterDir = mkdtempSync(join(this.options.runRoot, `nest-preload-${this.proc.pid}-`));
    this.runDir = join(this.clusterDir, 'run');
    this.tempRoot = join(this.clusterDir, 'tmp');
    mkdirSync(this.runDir, { mode: 0o700 });
    mkdirSync(this.tempRoot, { mode: 0o700 });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) this.proc.onSignal(signal, () => this.enqueue({ type: 'signal', signal }));
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

  private startPreload(): void {
    this.state = 'preloading';
    const generation = randomUUID();
    this.preloadStartedAt = this.timers.now();
    const child = this.cluster.fork({
      [PRELOAD_ENV.role]: 'preloader',
      [PRELOAD_ENV.runDir]: this.runDir,
      [PRELOAD_ENV.tempRoot]: this.tempRoot,
      [PRELOAD_ENV.generation]: generation,
    });
    this.preloader = child;
    this.handover = { manifestPath: '', generation };
    this.logger.log(`preloader started (pid ${child.pid}, generation ${generation})`);
    child.onMessage((message) => this.enqueue({ type: 'preloader-message', message }));
    child.onExit((code, signal) => this.enqueue({ type: 'preloader-exit', code, signal }));
    this.preloadTimer = this.timers.setTimeout(() => this.enqueue({ type: 'preload-timeout' }), this.options.preloadTimeoutMs);
  }

  private handlePreloaderMessage(message: unknown): void {
    // Pipelined: the workers build their apps while the steps run, and ask for the hand-over when built.
    if (isMessage(message, STEPS_STARTED) && this.options.preloadStart === 'pipelined' && this.state === 'preloading') return this.manageWorkers();
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
    const result = this.preloadResult;
    if (failure === null && result?.manifestPath && this.handover) {
      this.handover.manifestPath = result.manifestPath;
      if (result.lingering.length) this.logger.warn(`the preloader exited with handles still open: ${result.lingering.join(', ')}`);
      this.logger.log(`preload complete in ${tookMs} ms (generation ${this.handover.generation})`);
    } else {
      const why = failure ?? 'the preloader reported no hand-over';
      this.logger.warn(`preload abandoned after ${tookMs} ms (${why}); workers will run the full start-up`);
      this.handover = null;
      this.abandonReason = why;
      this.emptyDir(this.runDir);
      this.emptyDir(this.tempRoot);
    }
    this.state = 'running';
    for (const slot of this.awaiting) this.sendHandover(slot);
    this.awaiting.clear();
    this.manageWorkers();
  }

  /** Tells a waiting worker the preload's outcome. */
  private sendHandover(slot: WorkerSlot): void {
    const answer: HandoverMessage = this.handover
      ? { type: HANDOVER, ok: true, manifestPath: this.handover.manifestPath, generation: this.handover.generation }
      : { type: HANDOVER, ok: false, reason: this.abandonReason ?? 'preload is off' };
    slot.child.send(answer);
  }

  private enterRunning(): void {
    this.state = 'running';
    this.manageWorkers();
  }

  /** Makes sure every worker index has a live worker or a scheduled respawn. */
  private manageWorkers(): void {
    for (let index = 0; index < this.options.workers; index++) {
      if (!this.workers.has(index) && !this.pendingRespawns.has(index)) this.spawnWorker(index);
    }
  }

  private spawnWorker(index: number): void {
    const env: Record<string, string> = { [PRELOAD_ENV.role]: 'worker', [PRELOAD_ENV.workerIndex]: String(index) };
    if (this.state === 'preloading') {
      env[PRELOAD_ENV.awaitHandover] = '1';
    } else if (this.handover) {
      env[PRELOAD_ENV.manifest] = this.handover.manifestPath;
      env[PRELOAD_ENV.generation] = this.handover.generation;
    }
    const slot: WorkerSlot = { index, child: this.cluster.fork(env), ready: false };
    this.workers.set(index, slot);
    slot.child.onMessage((message) => this.enqueue({ type: 'worker-message', slot, message }));
    slot.child.onExit((code, signal) => this.enqueue({ type: 'worker-exit', slot, code, signal }));
  }

  private handleWorkerMessage(slot: WorkerSlot, message: unknown): void {
    if (this.workers.get(slot.index) !== slot) return;
    if (isMessage(message, AWAIT_HANDOVER)) {
      if (this.state === 'preloading') this.awaiting.add(slot);
      else if (this.state === 'running') this.sendHandover(slot);
      return;
    }
    if (!isMessage<ReadyMessage>(message, READY)) return;
    slot.ready = true;
    if (this.announcedReady || this.state !== 'running') return;
    const ready = [...this.workers.values()].filter((s) => s.ready).length;
    if (ready < this.options.workers) return;
    this.announcedReady = true;
    const mode = this.handover ? `preloaded, generation ${this.handover.generation}` : 'not preloaded';
    this.logger.log(`cluster ready: ${ready}/${this.options.workers} workers (${mode}) in ${Math.round(this.timers.now() - this.startedAt)} ms`);
  }

  /** A worker exited: decide between nothing (we stopped it), a boot error, and a respawn. */
  private reapWorker(slot: WorkerSlot, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.workers.get(slot.index) !== slot) return;
    this.workers.delete(slot.index);
    this.awaiting.delete(slot);
    const what = describeExit(`worker ${slot.index} (pid ${slot.child.pid})`, code, signal);
    if (this.state === 'stopping') {
      this.logger.log(what);
      return this.maybeFinish();
    }
    if (!slot.ready) {
      this.logger.error(`${what} before it became ready: a boot error; halting instead of restarting it in a loop`);
      return this.halt(EXIT_CODES.WORKER_BOOT_ERROR);
    }
    const crashes = (this.crashes.get(slot.index) ?? 0) + 1;
    this.crashes.set(slot.index, crashes);
    const delayMs = Math.min(this.options.restartDelayMs * 2 ** (crashes - 1), this.options.maxRestartDelayMs);
    this.logger.warn(`${what}; replacing it in ${delayMs} ms`);
    this.pendingRespawns.set(slot.index, this.timers.setTimeout(() => this.enqueue({ type: 'respawn', index: slot.index }), delayMs));
  }

  private handleRespawn(index: number): void {
    this.pendingRespawns.delete(index);
    if (this.state === 'running' && !this.workers.has(index)) this.spawnWorker(index);
  }

  private handleSignal(signal: NodeJS.Signals): void {
    if (this.state === 'stopping') {
      this.logger.warn(`${signal} again while stopping: killing every child now`);
      return this.killAll('SIGKILL');
    }
    this.logger.log(`${signal} received: stopping gracefully (up to ${this.options.gracefulTimeoutMs} ms)`);
    this.halt(EXIT_CODES.OK);
  }

  /** Stops everything: workers drain (bounded), then the dirs are removed and the run ends with `code`. */
  private halt(code: number): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.exitCode = code;
    this.state = 'stopping';
    for (const timer of this.pendingRespawns.values()) this.timers.clearTimeout(timer);
    this.pendingRespawns.clear();
    this.preloader?.kill('SIGTERM');
    for (const slot of this.workers.values()) this.killWorker(slot);
    this.graceTimer = this.timers.setTimeout(() => this.enqueue({ type: 'graceful-timeout' }), this.options.gracefulTimeoutMs);
    this.maybeFinish();
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
    for (const slot of this.workers.values()) slot.child.kill(signal);
  }

  private maybeFinish(): void {
    if (this.state !== 'stopping' || this.workers.size > 0 || this.preloader) return;
    this.timers.clearTimeout(this.graceTimer);
    const error = removeDir(this.clusterDir);
    if (error) this.logger.warn(`could not remove ${this.clusterDir}: ${error}`);
    this.proc.removeSignalListeners();
    this.state = 'stopped';
    this.logger.log(`stopped (exit code ${this.exitCode})`);
    this.resolveDone(this.exitCode);
  }

  private emptyDir(dir: string): void {
    for (const entry of safeReaddir(dir)) {
      const error = removeDir(join(dir, entry));
      if (error) this.logger.warn(`could not remove ${join(dir, entry)}: ${error}`);
    }
  }
}

/** Says how a child ended, by meaning. */
export function describeExit(who: string, code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGKILL') return `${who} was killed by SIGKILL (perhaps out of memory?)`;
  if (signal) return `${who} was killed by ${signal}`;
  if (code === EXIT_CODES.PRELOAD_FAILED) return `${who} exited with code ${code} (preload failed)`;
  return `${who} exited with code ${code}`;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
