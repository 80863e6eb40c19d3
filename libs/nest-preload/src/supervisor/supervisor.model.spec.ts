import fc from 'fast-check';
import { EXIT_CODES, PRELOAD_ENV } from '../preload.constants';
import { AWAIT_HANDOVER, HEARTBEAT, PRELOAD_DONE, READY, STEPS_STARTED } from '../ipc/messages';
import { resolveSupervisorOptions } from './cluster.options';
import { Supervisor } from './supervisor';
import { type FakeChild, FakeCluster, FakeHost, FakeLogger, FakeProcess, FakeTimers } from './testing/fake-ports';

/**
 * Model-based tests of the supervisor: random interleavings of every event it handles, on fake
 * ports, with the invariants checked after each event and once the cluster has settled.
 */

type Action =
  | { t: 'ready'; pick: number }
  | { t: 'await'; pick: number }
  | { t: 'stepsStarted' }
  | { t: 'preloadDone'; ok: boolean; appFailed: boolean }
  | { t: 'crash'; pick: number; signal: boolean; code: number }
  | { t: 'deliver' }
  | { t: 'beat' }
  | { t: 'hang'; pick: number }
  | { t: 'advance'; ms: number }
  | { t: 'signal'; signal: 'SIGHUP' | 'SIGTTIN' | 'SIGTTOU' }
  | { t: 'control-reload'; preload: boolean }
  | { t: 'control-scale'; workers: number }
  | { t: 'stop' };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('ready' as const), pick: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('await' as const), pick: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'stepsStarted' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('preloadDone' as const), ok: fc.boolean(), appFailed: fc.constant(false) }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('crash' as const), pick: fc.nat(7), signal: fc.boolean(), code: fc.constantFrom(1, 3) }),
  },
  { weight: 3, arbitrary: fc.constant({ t: 'deliver' as const }) },
  { weight: 3, arbitrary: fc.constant({ t: 'beat' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('hang' as const), pick: fc.nat(7) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.constantFrom(100, 400, 900, 2_500) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('signal' as const),
      signal: fc.constantFrom('SIGHUP' as const, 'SIGTTIN' as const, 'SIGTTOU' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('control-reload' as const), preload: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('control-scale' as const), workers: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'stop' as const }) },
);

const config = fc.record({
  workers: fc.integer({ min: 1, max: 4 }),
  preload: fc.boolean(),
  preloader: fc.constantFrom('serves' as const, 'exits' as const),
  preloadStart: fc.constantFrom('pipelined' as const, 'serial' as const),
  reloadPreload: fc.boolean(),
});

type Config = typeof config extends fc.Arbitrary<infer T> ? T : never;

const HEARTBEAT_TIMEOUT_MS = 2_000;

class Harness {
  readonly cluster = new FakeCluster();
  readonly timers = new FakeTimers();
  readonly proc = new FakeProcess();
  readonly host = new FakeHost();
  readonly logger = new FakeLogger();
  readonly sup: Supervisor;
  target: number;
  /** The exit code once the supervisor has stopped (its promise resolves a tick later). */
  get exitCode(): number | null {
    return this.sup.currentState === 'stopped' ? (this.sup as unknown as { exitCode: number }).exitCode : null;
  }
  /** Children that stopped beating (a hung event loop). */
  readonly hung = new Set<FakeChild>();
  /** How many signals a child had got while it was hung: those stay deserved once it beats again. */
  readonly signalsWhileHung = new Map<FakeChild, number>();
  readonly readySent = new Set<FakeChild>();
  readonly awaited = new Set<FakeChild>();
  readonly doneSent = new Set<FakeChild>();
  stopAsked = false;
  everReady = false;
  /** Log length when the last reload was asked for (by the harness, not read off the log). */
  reloadAskedAt: number | null = null;
  readonly violations: string[] = [];

  constructor(readonly cfg: Config) {
    const options = resolveSupervisorOptions(
      {
        ...cfg,
        controlFile: false,
        runRoot: '/run',
        sweepRoots: [],
        heartbeatIntervalMs: 500,
        heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
        bootTimeoutMs: 5_000,
        preloadTimeoutMs: 8_000,
        gracefulTimeoutMs: 3_000,
        drainTimeoutMs: 3_000,
        restartDelayMs: 100,
        maxRestartDelayMs: 800,
        minUptimeMs: 1_000,
        maxRestarts: 3,
        restartWindowMs: 10_000,
        pipelineConcurrency: 2,
        heavyPreloaderRatio: 0,
      },
      {},
    );
    this.target = cfg.workers;
    this.sup = new Supervisor(options, this.cluster, this.proc, this.timers, this.logger, this.host);
    void this.sup.run();
  }

  private pick<T>(list: T[], n: number): T | undefined {
    return list.length ? list[n % list.length] : undefined;
  }

  private serves(c: FakeChild) {
    return c.role === 'worker' || c.env[PRELOAD_ENV.preloaderServes] === '1';
  }

  /** A child that has its hand-over (or needs none) and is not told to stop can become ready. */
  private canBeReady(c: FakeChild): boolean {
    if (c.exited || this.readySent.has(c) || !this.serves(c) || c.signals.length || c.told) return false;
    if (c.role === 'preloader') return this.doneSent.has(c);
    if (c.env[PRELOAD_ENV.awaitHandover] === '1') return c.sent.some((m) => (m as { type?: string }).type === 'nest-preload:handover');
    return true;
  }

  apply(a: Action): void {
    const live = this.cluster.live;
    switch (a.t) {
      case 'ready': {
        const c = this.pick(
          live.filter((x) => this.canBeReady(x)),
          a.pick,
        );
        if (c) {
          this.readySent.add(c);
          c.emit({ type: READY, pid: c.pid, preloaded: true });
        }
        break;
      }
      case 'await': {
        const c = this.pick(
          live.filter((x) => x.role === 'worker' && x.env[PRELOAD_ENV.awaitHandover] === '1' && !this.awaited.has(x)),
          a.pick,
        );
        if (c) {
          this.awaited.add(c);
          c.emit({ type: AWAIT_HANDOVER });
        }
        break;
      }
      case 'stepsStarted': {
        const p = this.livePreloader();
        if (p) p.emit({ type: STEPS_STARTED });
        break;
      }
      case 'preloadDone': {
        const p = this.livePreloader();
        if (!p) break;
        this.doneSent.add(p);
        p.emit({
          type: PRELOAD_DONE,
          ok: a.ok,
          manifestPath: a.ok ? `/run/${p.env[PRELOAD_ENV.generation]}/manifest.json` : null,
          reason: a.ok ? null : 'a step failed',
          lingering: [],
          appFailed: a.appFailed,
        });
        if (!a.ok) p.exit(EXIT_CODES.PRELOAD_FAILED);
        else if (p.env[PRELOAD_ENV.preloaderServes] !== '1') p.exit(0);
        break;
      }
      case 'crash': {
        const c = this.pick(live, a.pick);
        if (c) c.exit(a.signal ? null : a.code, a.signal ? 'SIGKILL' : null);
        break;
      }
      case 'deliver':
        // Children do what they were told: drain and exit, or die of the signal they got.
        for (const c of live) {
          if (c.signals.includes('SIGKILL')) c.exit(null, 'SIGKILL');
          else if (c.signals.includes('SIGTERM') && !this.hung.has(c)) c.exit(0);
          else if (c.told && !this.hung.has(c)) c.exit(0);
        }
        break;
      case 'beat':
        for (const c of live) if (this.readySent.has(c) && !this.hung.has(c)) c.emit({ type: HEARTBEAT, requests: 1, rssMb: 80 });
        break;
      case 'hang': {
        const c = this.pick(
          live.filter((x) => this.readySent.has(x)),
          a.pick,
        );
        if (c) this.hung.add(c);
        break;
      }
      case 'advance':
        // Healthy ready children beat at least every heartbeat interval while time passes.
        for (let left = a.ms; left > 0; left -= 400) {
          this.apply({ t: 'beat' });
          this.timers.advance(Math.min(400, left));
        }
        break;
      case 'signal':
        if (a.signal === 'SIGHUP' && this.sup.currentState !== 'stopping' && this.sup.currentState !== 'stopped')
          this.reloadAskedAt = this.logger.lines.length;
        if (a.signal === 'SIGTTIN') this.target++;
        if (a.signal === 'SIGTTOU' && this.target > 1) this.target--;
        this.proc.raise(a.signal);
        break;
      case 'control-reload':
      case 'control-scale': {
        const request =
          a.t === 'control-reload' ? { v: 1, id: 1, cmd: 'reload', preload: a.preload } : { v: 1, id: 1, cmd: 'scale', workers: a.workers };
        let answer: { result: unknown; error?: string } | null = null;
        (this.sup as unknown as { enqueue(e: unknown): void }).enqueue({
          type: 'control',
          request,
          respond: (result: unknown, error?: string) => (answer = { result, error }),
        });
        const state = this.sup.currentState;
        if (!answer) this.violations.push(`${a.t}: the control request got no answer`);
        if (a.t === 'control-reload' && !(answer as { error?: string } | null)?.error) this.reloadAskedAt = this.logger.lines.length;
        if (a.t === 'control-scale' && (state === 'running' || state === 'preloading') && !(answer as { error?: string } | null)?.error)
          this.target = a.workers;
        if (a.t === 'control-reload' && (answer as { error?: string } | null)?.error && state !== 'stopping' && state !== 'stopped')
          this.violations.push(`${a.t}: refused while ${state}`);
        break;
      }
      case 'stop':
        this.stopAsked = true;
        this.proc.raise('SIGTERM');
        break;
    }
    if (this.logger.lines.some((l) => l.startsWith('cluster ready'))) this.everReady = true;
    this.check(a);
  }

  private livePreloader(): FakeChild | undefined {
    return this.cluster.live.filter((c) => c.role === 'preloader' && !this.doneSent.has(c)).pop();
  }

  /** Invariants that hold after every event. */
  private check(a: Action): void {
    const state = this.sup.currentState;
    if (state === 'running' || state === 'preloading') {
      for (const c of this.cluster.live) {
        if (!this.serves(c) || c.told || c.index === null) continue;
        // Never a worker above the target that is not being drained.
        if (c.index >= this.target) this.violations.push(`${a.t}: pid ${c.pid} holds index ${c.index} with target ${this.target}`);
        // No worker killed while its heartbeats arrive (it is ready, not hung, not told to stop).
        if (this.readySent.has(c) && !this.hung.has(c) && c.signals.length > (this.signalsWhileHung.get(c) ?? 0))
          this.violations.push(`${a.t}: healthy pid ${c.pid} got ${c.signals.join(',')}`);
      }
      // At most two live holders of an index (the serving one and its replacement).
      const byIndex = new Map<number, number>();
      for (const c of this.cluster.live)
        if (this.serves(c) && !c.told && c.index !== null) byIndex.set(c.index, (byIndex.get(c.index) ?? 0) + 1);
      for (const [i, n] of byIndex) if (n > 2) this.violations.push(`${a.t}: ${n} live holders of index ${i}`);
    }
    // A ready worker asked to drain while the cluster runs has a ready replacement, or its index is gone.
    if (state !== 'running') for (const c of this.cluster.live) if (c.told) this.checkedDrain.add(c);
    if (state === 'running') {
      for (const c of this.cluster.live) {
        // Only a worker told to drain by this very event, and serving when it was told.
        if (!c.told || this.checkedDrain.has(c)) continue;
        this.checkedDrain.add(c);
        if (!this.readySent.has(c) || c.index === null || c.index >= this.target) continue;
        const replacement = this.cluster.live.some((o) => o !== c && o.index === c.index && this.readySent.has(o) && !o.told);
        if (!replacement) this.violations.push(`${a.t}: pid ${c.pid} (index ${c.index}) drained with no ready replacement`);
      }
    }
  }
  private readonly checkedDrain = new Set<FakeChild>();

  /** Lets every child behave well until nothing changes: the cluster must then be what it should. */
  settle(): void {
    for (let round = 0; round < 60 && this.exitCode === null; round++) {
      for (const c of this.hung) this.signalsWhileHung.set(c, c.signals.length);
      this.hung.clear();
      for (const c of this.cluster.live)
        if (c.role === 'preloader' && !this.doneSent.has(c)) {
          c.emit({ type: STEPS_STARTED });
          this.apply({ t: 'preloadDone', ok: true, appFailed: false });
        }
      for (const c of this.cluster.live)
        if (c.role === 'worker' && c.env[PRELOAD_ENV.awaitHandover] === '1' && !this.awaited.has(c)) {
          this.awaited.add(c);
          c.emit({ type: AWAIT_HANDOVER });
        }
      for (const c of this.cluster.live)
        if (this.canBeReady(c)) {
          this.readySent.add(c);
          c.emit({ type: READY, pid: c.pid, preloaded: true });
        }
      this.apply({ t: 'deliver' });
      this.apply({ t: 'advance', ms: 900 });
    }
  }

  /** What must hold once the cluster has settled. */
  settledViolations(): string[] {
    const out = [...this.violations];
    const code = this.exitCode;
    if (code !== null) {
      if (code === EXIT_CODES.OK && !this.stopAsked) out.push('exit 0 without SIGTERM');
      if (code === EXIT_CODES.WORKER_BOOT_ERROR && this.everReady) out.push('boot-error halt after the cluster had been ready');
      if (![EXIT_CODES.OK, EXIT_CODES.WORKER_BOOT_ERROR, EXIT_CODES.RESTART_LIMIT].includes(code as 0 | 3 | 5))
        out.push(`undocumented exit code ${code}`);
      if (this.timers.pending > 0) out.push(`${this.timers.pending} timer(s) left after the supervisor stopped`);
      if (this.cluster.live.length) out.push('children left after the supervisor stopped');
      if (this.host.dirs.size) out.push(`dirs left after the supervisor stopped: ${[...this.host.dirs].join(', ')}`);
      return out;
    }
    if (this.stopAsked) return [...out, 'SIGTERM was not carried out'];
    const holders = this.cluster.live.filter((c) => this.serves(c));
    const indices = holders.map((c) => c.index).sort();
    const want = Array.from({ length: this.target }, (_, i) => i);
    if (JSON.stringify(indices) !== JSON.stringify(want))
      out.push(`settled on indices ${JSON.stringify(indices)}, want ${JSON.stringify(want)}`);
    if (!holders.every((c) => this.readySent.has(c))) out.push('a worker is not ready after settling');
    // Only the generation in use is kept: an abandoned or replaced one goes with its last user.
    const generations = [...this.host.dirs].filter((d) => /\/gen-\d+$/.test(d));
    if (generations.length > 1) out.push(`generation dirs left after settling: ${generations.join(', ')}`);
    const status = (this.sup as unknown as { status(): { reload: unknown } }).status();
    if (status.reload) out.push(`a reload intent is still pending after settling: ${JSON.stringify(status.reload)}`);
    if (
      this.reloadAskedAt !== null &&
      !this.logger.lines.slice(this.reloadAskedAt).some((l) => /\breload complete|\breload abandoned/.test(l))
    )
      out.push('an accepted reload was neither carried out nor refused');
    return out;
  }
}

describe('Supervisor (model-based)', () => {
  it('keeps its invariants under random interleavings of events, and settles where it should', () => {
    fc.assert(
      fc.property(config, fc.array(action, { maxLength: 60 }), (cfg, actions) => {
        const h = new Harness(cfg);
        for (const a of actions) h.apply(a);
        h.settle();
        const violations = h.settledViolations();
        if (violations.length) throw new Error(`${violations.join('\n')}\n--- log\n${h.logger.lines.join('\n')}`);
      }),
      { numRuns: Number(process.env.MODEL_RUNS ?? 2_000), seed: process.env.MODEL_SEED ? Number(process.env.MODEL_SEED) : undefined },
    );
  });
});
