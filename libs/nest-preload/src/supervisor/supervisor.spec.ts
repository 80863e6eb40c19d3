import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_CODES, PRELOAD_ENV } from '../preload.constants';
import {
  AWAIT_HANDOVER,
  CLUSTER_STATUS,
  CLUSTER_STATUS_REQUEST,
  HANDOVER,
  HEARTBEAT,
  LEADER,
  METRICS_COLLECT,
  METRICS_REPORT,
  METRICS_REQUEST,
  METRICS_RESULT,
  PRELOAD_DONE,
  READY,
  SERVER_CLOSED,
  SERVER_CLOSED_ACK,
  SHUTDOWN,
  STEPS_STARTED,
  STOPPING,
  TIMELINE,
} from '../ipc/messages';
import { resolveSupervisorOptions } from './cluster.options';
import { restartReason, Supervisor } from './supervisor';
import type { SupervisorLogger } from './supervisor.ports';
import { type FakeChild, FakeCluster, FakeProcess, FakeTimers } from './testing/fake-ports';

function start(over: Record<string, unknown> = {}) {
  const runRoot = mkdtempSync(join(tmpdir(), 'sup-spec-'));
  const options = resolveSupervisorOptions(
    {
      workers: 2,
      preload: true,
      preloadStart: 'serial',
      preloader: 'exits',
      heavyPreloaderRatio: 0,
      minUptimeMs: 1_000,
      heartbeatTimeoutMs: 0,
      controlFile: false,
      timeline: false,
      preloadTimeoutMs: 1_000,
      gracefulTimeoutMs: 500,
      restartDelayMs: 100,
      maxRestartDelayMs: 400,
      pipelineConcurrency: 8,
      runRoot,
      ...over,
    },
    {},
  );
  const cluster = new FakeCluster();
  const timers = new FakeTimers();
  const proc = new FakeProcess();
  const lines: string[] = [];
  const logger: SupervisorLogger = {
    log: (m) => lines.push(m),
    warn: (m) => lines.push(`WARN ${m}`),
    error: (m) => lines.push(`ERROR ${m}`),
  };
  const sup = new Supervisor(options, cluster, proc, timers, logger);
  let exitCode: number | null = null;
  void sup.run().then((code) => (exitCode = code));
  const clusterDir = join(runRoot, readdirSync(runRoot)[0]);
  return { sup, cluster, timers, proc, lines, runRoot, clusterDir, exit: () => exitCode };
}

const settle = () => new Promise((r) => setImmediate(r));
/** The SHUTDOWN requests a child received (it may also have been told who leads). */
const shutdowns = (c: FakeChild) => c.sent.filter((m) => (m as { type: string }).type === SHUTDOWN);

/** The dir of the n-th generation inside the cluster dir. */
const gen = (t: ReturnType<typeof start>, n = 1) => join(t.clusterDir, `gen-${n}`);

function preloadOk(t: ReturnType<typeof start>, n = 1) {
  const manifestPath = join(gen(t, n), 'run', 'manifest.json');
  t.cluster.preloader.emit({ type: PRELOAD_DONE, ok: true, manifestPath, reason: null, lingering: [] });
  t.cluster.preloader.exit(0);
  return manifestPath;
}

describe('Supervisor', () => {
  it('forks the preloader with a private run dir, then the workers with the hand-over', () => {
    const t = start();
    expect(t.sup.currentState).toBe('preloading');
    const pre = t.cluster.preloader;
    expect(pre.env).toEqual({
      [PRELOAD_ENV.role]: 'preloader',
      [PRELOAD_ENV.runDir]: join(gen(t), 'run'),
      [PRELOAD_ENV.tempRoot]: join(gen(t), 'tmp'),
      [PRELOAD_ENV.generation]: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(t.cluster.workers).toHaveLength(0);
    const manifestPath = preloadOk(t);
    expect(t.sup.currentState).toBe('running');
    expect(t.cluster.workers.map((w) => w.env)).toEqual(
      [0, 1].map((i) => ({
        [PRELOAD_ENV.role]: 'worker',
        [PRELOAD_ENV.workerIndex]: String(i),
        [PRELOAD_ENV.manifest]: manifestPath,
        [PRELOAD_ENV.generation]: pre.env[PRELOAD_ENV.generation],
      })),
    );
  });

  it('with preload off, forks the workers at once, without a hand-over', () => {
    const t = start({ preload: false });
    expect(t.cluster.children.map((c) => c.env)).toEqual([
      { [PRELOAD_ENV.role]: 'worker', [PRELOAD_ENV.workerIndex]: '0' },
      { [PRELOAD_ENV.role]: 'worker', [PRELOAD_ENV.workerIndex]: '1' },
    ]);
  });

  it.each([
    [
      'reports failure',
      (c: FakeChild) => {
        c.emit({ type: PRELOAD_DONE, ok: false, manifestPath: null, reason: 'Critical preload step "bundles" failed', lingering: [] });
        c.exit(4);
      },
      'Critical preload step "bundles" failed',
    ],
    [
      'crashes',
      (c: FakeChild) => c.exit(null, 'SIGKILL'),
      'the preloader was killed by SIGKILL (not by the supervisor: perhaps out of memory?)',
    ],
  ])('when the preloader %s: removes its generation and forks workers without a hand-over', (_, end, why) => {
    const t = start();
    mkdirSync(join(gen(t), 'tmp', 'nest-preload-bundle-x'));
    end(t.cluster.preloader);
    expect(existsSync(gen(t))).toBe(false);
    expect(t.cluster.workers.map((w) => w.env[PRELOAD_ENV.manifest])).toEqual([undefined, undefined]);
    expect(t.lines.some((l) => l.startsWith('WARN preload abandoned') && l.includes(why))).toBe(true);
  });

  it('hands over as soon as the preloader reports the manifest, before it exits; a later unclean exit only warns', () => {
    const t = start();
    t.cluster.preloader.emit({ type: PRELOAD_DONE, ok: true, manifestPath: '/run/manifest.json', reason: null, lingering: [] });
    expect(t.sup.currentState).toBe('running');
    expect(t.cluster.workers.map((w) => w.env[PRELOAD_ENV.manifest])).toEqual(['/run/manifest.json', '/run/manifest.json']);
    t.cluster.preloader.exit(1);
    expect(t.lines).toContain('WARN the preloader exited with code 1 after handing over');
    expect(t.cluster.workers).toHaveLength(2);
    t.timers.advance(5_000);
    expect(t.cluster.preloader.signals).toEqual([]);
  });

  it('kills a hung preloader at preloadTimeoutMs and falls back', () => {
    const t = start();
    t.timers.advance(999);
    expect(t.cluster.preloader.signals).toEqual([]);
    t.timers.advance(1);
    expect(t.cluster.preloader.signals).toEqual(['SIGKILL']);
    t.cluster.preloader.exit(null, 'SIGKILL');
    expect(t.cluster.workers).toHaveLength(2);
    expect(t.lines.some((l) => l.includes('timed out after 1000 ms'))).toBe(true);
  });

  it('announces readiness once every worker said ready', () => {
    const t = start({ preload: false });
    t.cluster.workers[0].emit({ type: READY, pid: 100, preloaded: false });
    expect(t.lines.some((l) => l.startsWith('cluster ready'))).toBe(false);
    t.cluster.workers[1].emit({ type: READY, pid: 101, preloaded: false });
    expect(t.lines.filter((l) => l.startsWith('cluster ready: 2/2 workers (not preloaded)'))).toHaveLength(1);
  });

  it('replaces a crashed ready worker under the same index, with a doubling delay capped at maxRestartDelayMs', () => {
    const t = start({ preload: false });
    const [w0] = t.cluster.workers;
    w0.emit({ type: READY, pid: w0.pid, preloaded: false });
    const delays: number[] = [];
    let current = w0;
    for (let i = 0; i < 4; i++) {
      current.exit(null, 'SIGKILL');
      const before = t.cluster.children.length;
      let waited = 0;
      while (t.cluster.children.length === before) {
        t.timers.advance(10);
        waited += 10;
      }
      delays.push(waited);
      current = t.cluster.children[t.cluster.children.length - 1];
      expect(current.env[PRELOAD_ENV.workerIndex]).toBe('0');
      current.emit({ type: READY, pid: current.pid, preloaded: false });
    }
    expect(delays).toEqual([100, 200, 400, 400]);
    expect(t.lines).toContain(
      `WARN worker 0 (pid ${w0.pid}) was killed by SIGKILL (not by the supervisor: perhaps out of memory?); replacing it in 100 ms (unstable exit 1 of index 0 within restartWindowMs)`,
    );
  });

  it('halts with WORKER_BOOT_ERROR when a worker exits before it was ever ready, instead of looping', async () => {
    const t = start({ preload: false });
    t.cluster.workers[0].exit(1);
    expect(t.sup.currentState).toBe('stopping');
    expect(t.cluster.workers[1].sent).toEqual([{ type: SHUTDOWN }]);
    t.cluster.workers[1].exit(0);
    await settle();
    expect(t.exit()).toBe(EXIT_CODES.WORKER_BOOT_ERROR);
    expect(t.cluster.children).toHaveLength(2);
    expect(t.lines.some((l) => l.includes('before it became ready during the first start: a boot error'))).toBe(true);
  });

  it('SIGTERM: asks every worker to drain, then removes the cluster dir and exits 0', async () => {
    const t = start();
    preloadOk(t);
    t.proc.raise('SIGTERM');
    expect(t.cluster.workers.map(shutdowns)).toEqual([[{ type: SHUTDOWN }], [{ type: SHUTDOWN }]]);
    t.cluster.workers[0].exit(0);
    await settle();
    expect(t.exit()).toBeNull();
    t.cluster.workers[1].exit(0);
    await settle();
    expect(t.exit()).toBe(0);
    expect(existsSync(t.clusterDir)).toBe(false);
    expect(t.proc.listeners.size).toBe(0);
    expect(t.sup.currentState).toBe('stopped');
  });

  it('SIGTERM: SIGKILLs what is left at gracefulTimeoutMs, and a second signal forces it at once', () => {
    const t = start({ preload: false });
    t.proc.raise('SIGTERM');
    t.timers.advance(499);
    expect(t.cluster.workers[0].signals).toEqual([]);
    t.timers.advance(1);
    expect(t.cluster.workers.map((w) => w.signals)).toEqual([['SIGKILL'], ['SIGKILL']]);

    const u = start({ preload: false });
    u.proc.raise('SIGINT');
    u.proc.raise('SIGINT');
    expect(u.cluster.workers.map((w) => w.signals)).toEqual([['SIGKILL'], ['SIGKILL']]);
  });

  it('SIGTERM during the preload stops the preloader and starts no worker', async () => {
    const t = start();
    t.proc.raise('SIGTERM');
    expect(t.cluster.preloader.signals).toEqual(['SIGTERM']);
    t.cluster.preloader.exit(null, 'SIGTERM');
    await settle();
    expect(t.cluster.workers).toHaveLength(0);
    expect(t.exit()).toBe(0);
  });

  describe('pipelined start', () => {
    /** A pipelined cluster whose preloader has built its app and started its steps. */
    const pipelined = () => {
      const t = start({ preloadStart: 'pipelined' });
      t.cluster.preloader.emit({ type: STEPS_STARTED });
      return t;
    };

    it('forks the workers beside the preloader at once; they wait for the hand-over instead of reading it from their environment', () => {
      const t = start({ preloadStart: 'pipelined' });
      expect(t.cluster.children.map((c) => c.role)).toEqual(['preloader', 'worker', 'worker']);
      expect(t.cluster.workers.map((w) => w.env)).toEqual(
        [0, 1].map((i) => ({ [PRELOAD_ENV.role]: 'worker', [PRELOAD_ENV.workerIndex]: String(i), [PRELOAD_ENV.awaitHandover]: '1' })),
      );
    });

    it('builds at most pipelineConcurrency workers beside the preloader; each built one makes room for the next, the hand-over forks the rest', () => {
      const t = start({ preloadStart: 'pipelined', workers: 5, pipelineConcurrency: 2 });
      expect(t.cluster.workers.map((w) => w.env[PRELOAD_ENV.workerIndex])).toEqual(['0', '1']);
      t.cluster.workers[1].emit({ type: AWAIT_HANDOVER });
      expect(t.cluster.workers.map((w) => w.env[PRELOAD_ENV.workerIndex])).toEqual(['0', '1', '2']);
      t.cluster.workers[2].emit({ type: AWAIT_HANDOVER });
      expect(t.cluster.workers.map((w) => w.env[PRELOAD_ENV.workerIndex])).toEqual(['0', '1', '2', '3']);
      const manifestPath = preloadOk(t);
      // The hand-over: the rest are forked at once, from the manifest; those waiting are answered.
      expect(t.cluster.workers.slice(4).map((w) => [w.env[PRELOAD_ENV.workerIndex], w.env[PRELOAD_ENV.manifest]])).toEqual([
        ['4', manifestPath],
      ]);
      expect(t.cluster.workers[1].sent).toEqual([expect.objectContaining({ type: HANDOVER, ok: true, manifestPath })]);
    });

    it('passes workerExecArgv to the workers only, never to the preloader', () => {
      const forks: Array<[string, readonly string[] | undefined]> = [];
      const t = start({ preloadStart: 'serial', workerExecArgv: ['--max-semi-space-size=1'] });
      const original = t.cluster.fork.bind(t.cluster);
      t.cluster.fork = (env, execArgv) => {
        forks.push([env[PRELOAD_ENV.role], execArgv]);
        return original(env);
      };
      preloadOk(t);
      expect(forks).toEqual([
        ['worker', ['--max-semi-space-size=1']],
        ['worker', ['--max-semi-space-size=1']],
      ]);
    });

    it('answers a worker that asked during the preload when it ends, and a later one at once', () => {
      const t = pipelined();
      const [w0, w1] = t.cluster.workers;
      w0.emit({ type: AWAIT_HANDOVER });
      expect(w0.sent).toEqual([]);
      const manifestPath = preloadOk(t);
      const answer = { type: HANDOVER, ok: true, manifestPath, generation: t.cluster.preloader.env[PRELOAD_ENV.generation] };
      expect(w0.sent).toEqual([answer]);
      expect(w1.sent).toEqual([]);
      w1.emit({ type: AWAIT_HANDOVER });
      expect(w1.sent).toEqual([answer]);
      expect(t.cluster.children).toHaveLength(3);
    });

    it('status says how long each worker waited for the hand-over and took to be ready; one that asked after the hand-over has no wait', () => {
      const t = pipelined();
      const [w0, w1] = t.cluster.workers;
      t.timers.advance(100);
      w0.emit({ type: AWAIT_HANDOVER });
      t.timers.advance(400);
      preloadOk(t);
      t.timers.advance(50);
      w1.emit({ type: AWAIT_HANDOVER });
      t.timers.advance(25);
      for (const w of [w0, w1]) w.emit({ type: READY, pid: w.pid, preloaded: true });
      const status = (
        t.sup as unknown as { status(): { workers: Array<{ index: number; startMs: number | null; handoverWaitMs: number | null }> } }
      ).status();
      expect(status.workers.map((w) => [w.index, w.startMs, w.handoverWaitMs])).toEqual([
        [0, 575, 400],
        [1, 575, null],
      ]);
    });

    it('a preloader that dies before its steps start: the workers forked beside it are told there is no hand-over', () => {
      const t = start({ preloadStart: 'pipelined' });
      t.cluster.preloader.exit(1);
      for (const w of t.cluster.workers) w.emit({ type: AWAIT_HANDOVER });
      expect(t.cluster.workers.map((w) => w.sent)).toEqual(
        [0, 1].map(() => [{ type: HANDOVER, ok: false, reason: 'the preloader exited with code 1' }]),
      );
    });

    it('tells waiting workers why the preload was abandoned, so they do the full start-up', () => {
      const t = pipelined();
      const [w0] = t.cluster.workers;
      w0.emit({ type: AWAIT_HANDOVER });
      t.cluster.preloader.exit(null, 'SIGKILL');
      expect(w0.sent).toEqual([
        { type: HANDOVER, ok: false, reason: 'the preloader was killed by SIGKILL (not by the supervisor: perhaps out of memory?)' },
      ]);
    });

    it('SIGTERM while workers wait: the preloader is stopped and every worker asked to exit', async () => {
      const t = pipelined();
      for (const w of t.cluster.workers) w.emit({ type: AWAIT_HANDOVER });
      t.proc.raise('SIGTERM');
      expect(t.cluster.preloader.signals).toEqual(['SIGTERM']);
      expect(t.cluster.workers.map(shutdowns)).toEqual([[{ type: SHUTDOWN }], [{ type: SHUTDOWN }]]);
      t.cluster.preloader.exit(null, 'SIGTERM');
      for (const w of t.cluster.workers) w.exit(0);
      await settle();
      expect(t.exit()).toBe(0);
      expect(existsSync(t.clusterDir)).toBe(false);
    });

    it('a worker replaced after the preload gets the hand-over in its environment', () => {
      const t = pipelined();
      const manifestPath = preloadOk(t);
      const [w0] = t.cluster.workers;
      w0.emit({ type: READY, pid: w0.pid, preloaded: true });
      w0.exit(null, 'SIGKILL');
      t.timers.advance(100);
      expect(t.cluster.children[3].env).toMatchObject({ [PRELOAD_ENV.manifest]: manifestPath, [PRELOAD_ENV.workerIndex]: '0' });
      expect(t.cluster.children[3].env[PRELOAD_ENV.awaitHandover]).toBeUndefined();
    });
  });

  describe('rolling reload (SIGHUP)', () => {
    /** A running, preloaded cluster whose workers all said ready. */
    function running(over: Record<string, unknown> = {}) {
      const t = start(over);
      preloadOk(t);
      for (const w of t.cluster.workers) w.emit({ type: READY, pid: w.pid, preloaded: true });
      return t;
    }
    const ready = (c: FakeChild) => c.emit({ type: READY, pid: c.pid, preloaded: true });

    it('replaces the workers one at a time: start the new one, wait until ready, then drain the old one', () => {
      const t = running();
      const [old0, old1] = t.cluster.workers;
      t.proc.raise('SIGHUP');
      expect(t.cluster.workers).toHaveLength(3);
      const new0 = t.cluster.workers[2];
      expect(new0.env[PRELOAD_ENV.workerIndex]).toBe('0');
      expect(shutdowns(old0)).toEqual([]);
      ready(new0);
      expect(shutdowns(old0)).toEqual([{ type: SHUTDOWN }]);
      // The next index is replaced once the last replacement serves, while the old one drains.
      const new1 = t.cluster.workers[3];
      expect(new1.env[PRELOAD_ENV.workerIndex]).toBe('1');
      expect(shutdowns(old1)).toEqual([]);
      ready(new1);
      expect(shutdowns(old1)).toEqual([{ type: SHUTDOWN }]);
      old1.exit(0);
      expect(t.lines.filter((l) => l.startsWith('reload complete'))).toHaveLength(0);
      old0.exit(0);
      expect(t.sup.workerPids()).toEqual(
        new Map([
          [0, new0.pid],
          [1, new1.pid],
        ]),
      );
      expect(t.lines.filter((l) => l.startsWith('reload complete'))).toHaveLength(1);
      expect(t.sup.currentState).toBe('running');
    });

    it('a replacement that fails to start abandons the reload; the running workers keep serving', () => {
      const t = running();
      const [old0] = t.cluster.workers;
      t.proc.raise('SIGHUP');
      t.cluster.workers[2].exit(1);
      expect(shutdowns(old0)).toEqual([]);
      expect(t.sup.currentState).toBe('running');
      expect(t.lines).toContain(
        `ERROR worker 0 (pid ${t.cluster.workers[2].pid}) exited with code 1 before it became ready: reload abandoned, the running workers keep serving`,
      );
      t.proc.raise('SIGHUP');
      expect(t.cluster.workers).toHaveLength(4);
    });

    it('a replacement killed by a signal from elsewhere (OOM) is retried after the backoff: the reload goes on', () => {
      const t = running();
      const [old0, old1] = t.cluster.workers;
      t.proc.raise('SIGHUP');
      t.cluster.workers[2].exit(null, 'SIGKILL');
      expect(t.lines.some((l) => l.includes('reload abandoned'))).toBe(false);
      // Index 0 waits out its backoff (index 1 may be replaced meanwhile); then it is tried again.
      for (let i = 0; i < 10 && !t.lines.some((l) => l.startsWith('reload complete')); i++) {
        t.timers.advance(100);
        for (const w of t.cluster.workers.slice(3)) if (!w.sent.some((m) => (m as { type: string }).type === SHUTDOWN)) ready(w);
        for (const w of [old0, old1])
          if (shutdowns(w).length && !(w as unknown as { gone?: boolean }).gone) {
            (w as unknown as { gone: boolean }).gone = true;
            w.exit(0);
          }
      }
      expect(t.lines.filter((l) => l.startsWith('reload complete'))).toHaveLength(1);
      expect([...t.sup.workerPids().values()].every((pid) => (pid as number) > 103)).toBe(true);
    });

    it('a second SIGHUP during a reload is queued, then run after it', () => {
      const t = running();
      t.proc.raise('SIGHUP');
      t.proc.raise('SIGHUP');
      expect(t.cluster.workers).toHaveLength(3);
      const drive = () => {
        const fresh = t.cluster.workers[t.cluster.workers.length - 1];
        ready(fresh);
        const old = t.cluster.workers.find((w) => shutdowns(w).length === 1 && !(w as unknown as { gone?: boolean }).gone) as FakeChild;
        (old as unknown as { gone: boolean }).gone = true;
        old.exit(0);
      };
      for (let i = 0; i < 4; i++) drive();
      expect(t.cluster.workers).toHaveLength(2 + 4);
      expect(t.lines.filter((l) => l.startsWith('reload complete'))).toHaveLength(2);
      expect(t.lines).toContain('SIGHUP received during a reload: queued; it runs once this reload is complete');
    });

    it('with reloadPreload: a new generation is preloaded while a replacement boots, and the old generation goes with its last worker', () => {
      const t = running({ reloadPreload: true, preloadStart: 'pipelined' });
      const [old0, old1] = t.cluster.workers;
      t.proc.raise('SIGHUP');
      const preloader2 = t.cluster.children[t.cluster.children.length - 1];
      expect(preloader2.env[PRELOAD_ENV.runDir]).toBe(join(gen(t, 2), 'run'));
      preloader2.emit({ type: STEPS_STARTED });
      const new0 = t.cluster.workers[2];
      expect(new0.env[PRELOAD_ENV.awaitHandover]).toBe('1');
      new0.emit({ type: AWAIT_HANDOVER });
      expect(new0.sent).toEqual([]);
      const manifest2 = preloadOk(t, 2);
      expect(new0.sent).toEqual([
        { type: HANDOVER, ok: true, manifestPath: manifest2, generation: preloader2.env[PRELOAD_ENV.generation] },
      ]);
      ready(new0);
      old0.exit(0);
      const new1 = t.cluster.workers[3];
      expect(new1.env[PRELOAD_ENV.manifest]).toBe(manifest2);
      expect(existsSync(gen(t, 1))).toBe(true);
      ready(new1);
      old1.exit(0);
      expect(existsSync(gen(t, 1))).toBe(false);
      expect(existsSync(gen(t, 2))).toBe(true);
    });

    it('an old worker that crashes while the new generation is preloaded is still replaced', () => {
      const t = running({ reloadPreload: true });
      const [old0] = t.cluster.workers;
      t.proc.raise('SIGHUP');
      old0.exit(null, 'SIGKILL');
      t.timers.advance(100);
      expect(t.cluster.workers[t.cluster.workers.length - 1].env).toMatchObject({
        [PRELOAD_ENV.workerIndex]: '0',
        [PRELOAD_ENV.manifest]: join(gen(t, 1), 'run', 'manifest.json'),
      });
    });
  });

  describe('the preloader that serves', () => {
    const done = (t: ReturnType<typeof start>, rss: [number, number] = [100, 105]) => {
      const pre = t.cluster.preloader;
      pre.emit({ type: STEPS_STARTED });
      pre.emit({
        type: PRELOAD_DONE,
        ok: true,
        manifestPath: join(gen(t), 'run', 'manifest.json'),
        reason: null,
        lingering: [],
        rssBeforeStepsMb: rss[0],
        rssAfterStepsMb: rss[1],
      });
      return pre;
    };
    const ready = (c: FakeChild) => c.emit({ type: READY, pid: c.pid, preloaded: true });

    it('holds index 0: the other workers are forked beside it and start from its hand-over; it serves once ready', () => {
      const t = start({ preloader: 'serves', preloadStart: 'pipelined', workers: 3, heavyPreloaderRatio: 0 });
      expect(t.cluster.children.map((c) => [c.role, c.env[PRELOAD_ENV.workerIndex]])).toEqual([
        ['preloader', '0'],
        ['worker', '1'],
        ['worker', '2'],
      ]);
      expect(t.cluster.preloader.env[PRELOAD_ENV.preloaderServes]).toBe('1');
      const pre = done(t);
      for (const c of [pre, ...t.cluster.workers]) ready(c);
      expect(t.lines.some((l) => l.startsWith('cluster ready: 3/3 workers (preloaded'))).toBe(true);
      expect(t.sup.workerPids().get(0)).toBe(pre.pid);
    });

    it('a heavy preloader (its steps grew its RSS past heavyPreloaderRatio) is replaced once the cluster is ready, off the critical path; a lean one is kept', () => {
      for (const [workers, rss, replaced] of [
        [2, [100, 160], true],
        [2, [100, 110], false],
        [1, [100, 160], true],
        [1, [100, 110], false],
      ] as const) {
        const t = start({ preloader: 'serves', preloadStart: 'pipelined', workers, heavyPreloaderRatio: 1.25 });
        const pre = done(t, [...rss] as [number, number]);
        const others = [...t.cluster.workers];
        expect(others).toHaveLength(workers - 1);
        for (const c of [pre, ...others]) ready(c);
        expect(t.lines.some((l) => l.startsWith('cluster ready'))).toBe(true);
        expect(t.cluster.workers.length).toBe(workers - 1 + (replaced ? 1 : 0));
        expect(
          t.lines.some((l) =>
            l.includes(
              replaced ? 'its steps took its RSS from 100 MB to 160 MB, over 1.25×' : 'went from 100 MB to 110 MB RSS in its steps',
            ),
          ),
        ).toBe(true);
        if (!replaced) continue;
        expect(shutdowns(pre)).toEqual([]);
        ready(t.cluster.workers[t.cluster.workers.length - 1]);
        expect(shutdowns(pre)).toEqual([{ type: SHUTDOWN }]);
      }
    });

    it('a preloader whose preload failed gives index 0 to a worker doing the full start-up', () => {
      const t = start({ preloader: 'serves', preloadStart: 'pipelined', workers: 2 });
      const pre = t.cluster.preloader;
      pre.emit({ type: PRELOAD_DONE, ok: false, manifestPath: null, reason: 'Critical preload step "x" failed', lingering: [] });
      pre.exit(EXIT_CODES.PRELOAD_FAILED);
      const zero = t.cluster.workers.find((w) => w.env[PRELOAD_ENV.workerIndex] === '0') as FakeChild;
      expect(zero.env[PRELOAD_ENV.manifest]).toBeUndefined();
      expect(t.sup.currentState).toBe('running');
    });

    it('a preloader that cannot create the app halts the first start at once (exit 3), like a plain process', async () => {
      const t = start({ preloader: 'serves', preloadStart: 'pipelined', workers: 2 });
      const pre = t.cluster.preloader;
      pre.emit({
        type: PRELOAD_DONE,
        ok: false,
        manifestPath: null,
        reason: 'the app failed to initialize: Error: connect ECONNREFUSED',
        lingering: [],
        appFailed: true,
      });
      expect(t.sup.currentState).toBe('stopping');
      // The worker building its app beside it (it has run no step) is ended at once, not drained.
      const beside = t.cluster.workers.filter((w) => w !== pre);
      expect(beside.length).toBeGreaterThan(0);
      for (const w of beside) expect(w.signals).toEqual(['SIGKILL']);
      expect(pre.signals).not.toContain('SIGKILL');
      pre.exit(3);
      for (const w of beside) w.exit(null, 'SIGKILL');
      await settle();
      expect(t.exit()).toBe(EXIT_CODES.WORKER_BOOT_ERROR);
      expect(
        t.lines.some((l) =>
          l.includes('the preloader could not create the app: the app failed to initialize: Error: connect ECONNREFUSED; halting'),
        ),
      ).toBe(true);
      expect(t.lines.some((l) => l.includes('workers will run the full start-up'))).toBe(false);
    });
  });

  describe('supervision', () => {
    const readyAll = (t: ReturnType<typeof start>) => {
      for (const w of t.cluster.workers) w.emit({ type: READY, pid: w.pid, preloaded: false });
    };

    // Regression specs: counterexamples the model-based spec found, shrunk.
    it('a worker being killed for its boot timeout does not become ready on the way out (and is a boot error)', async () => {
      const t = start({ preload: false, workers: 1, bootTimeoutMs: 5_000 });
      const [w0] = t.cluster.workers;
      t.timers.advance(5_000);
      expect(w0.signals).toEqual(['SIGKILL']);
      w0.emit({ type: READY, pid: w0.pid, preloaded: false });
      expect(t.lines.some((l) => l.startsWith('cluster ready'))).toBe(false);
      w0.exit(null, 'SIGKILL');
      await settle();
      expect(t.exit()).toBe(EXIT_CODES.WORKER_BOOT_ERROR);
      expect(t.lines.some((l) => l.includes('was killed by SIGKILL (by the supervisor: boot timeout)'))).toBe(true);
    });

    it('a worker scaled away while it boots is not called hung; its drain is bounded; stopping leaves no timer', async () => {
      const t = start({ preload: false, heartbeatIntervalMs: 500, heartbeatTimeoutMs: 2_000, drainTimeoutMs: 3_000 });
      t.proc.raise('SIGTTOU');
      const w1 = t.cluster.workers[1];
      t.timers.advance(3_400);
      expect(t.lines.some((l) => l.includes('hung event loop'))).toBe(false);
      expect(w1.sent).toEqual([{ type: SHUTDOWN }, { type: SHUTDOWN, cut: true }]);
      t.proc.raise('SIGTERM');
      for (const w of t.cluster.workers) w.exit(0);
      await settle();
      expect(t.exit()).toBe(0);
      expect((t.timers as unknown as { timers: unknown[] }).timers).toEqual([]);
    });

    it('kills a worker not ready within bootTimeoutMs, which is then a boot error', async () => {
      const t = start({ preload: false, bootTimeoutMs: 5_000 });
      t.cluster.workers[0].emit({ type: READY, pid: 1, preloaded: false });
      t.timers.advance(5_000);
      expect(t.cluster.workers.map((w) => w.signals)).toEqual([[], ['SIGKILL']]);
      t.cluster.workers[1].exit(null, 'SIGKILL');
      expect(t.sup.currentState).toBe('stopping');
      t.cluster.workers[0].exit(0);
      await settle();
      expect(t.exit()).toBe(EXIT_CODES.WORKER_BOOT_ERROR);
    });

    it('halts with RESTART_LIMIT only when every index crash-loops right after ready and none serves', async () => {
      const t = start({ preload: false, maxRestarts: 2, restartWindowMs: 10_000, restartDelayMs: 10, maxRestartDelayMs: 10 });
      readyAll(t);
      const live = (i: number) => t.cluster.workers.filter((w) => w.env[PRELOAD_ENV.workerIndex] === String(i)).pop() as FakeChild;
      for (let round = 0; round < 3 && t.sup.currentState === 'running'; round++) {
        for (const i of [0, 1]) if (t.sup.currentState === 'running') live(i).exit(null, 'SIGKILL');
        t.timers.advance(10);
        for (const i of [0, 1]) live(i).emit({ type: READY, pid: 0, preloaded: false });
      }
      await settle();
      expect(t.exit()).toBe(EXIT_CODES.RESTART_LIMIT);
      expect(
        t.lines.some(
          (l) =>
            l.includes('every worker index (2) crashed more than maxRestarts (2) times within restartWindowMs (10000 ms)') &&
            l.endsWith('; halting'),
        ),
      ).toBe(true);
    });

    it('one index crash-looping while another serves never halts: it is retried at the capped delay', () => {
      const t = start({ preload: false, maxRestarts: 2, restartWindowMs: 10_000, restartDelayMs: 10, maxRestartDelayMs: 40 });
      readyAll(t);
      const delays: string[] = [];
      for (let i = 0; i < 8; i++) {
        const w = t.cluster.workers[t.cluster.workers.length - 1];
        w.exit(null, 'SIGKILL');
        delays.push(/replacing it in (\d+) ms/.exec(t.lines[t.lines.length - 1])?.[1] ?? '?');
        t.timers.advance(40);
        t.cluster.workers[t.cluster.workers.length - 1].emit({ type: READY, pid: 0, preloaded: false });
      }
      expect(t.sup.currentState).toBe('running');
      expect(delays).toEqual(['10', '20', '40', '40', '40', '40', '40', '40']);
    });

    it('a worker that served at least minUptimeMs was stable: its next crash starts the backoff over', () => {
      const t = start({ preload: false, minUptimeMs: 1_000, restartDelayMs: 10, maxRestartDelayMs: 1_000 });
      readyAll(t);
      const delays: string[] = [];
      for (const servedMs of [0, 0, 1_000, 0]) {
        t.timers.advance(servedMs);
        t.cluster.workers[t.cluster.workers.length - 1].exit(null, 'SIGKILL');
        delays.push(/replacing it in (\d+) ms/.exec(t.lines[t.lines.length - 1])?.[1] ?? '?');
        t.timers.advance(1_000);
        t.cluster.workers[t.cluster.workers.length - 1].emit({ type: READY, pid: 0, preloaded: false });
      }
      expect(delays).toEqual(['10', '20', '10', '10']);
    });

    it('crashes spread wider than restartWindowMs never halt, and a stable worker starts its backoff over', () => {
      const t = start({ preload: false, maxRestarts: 1, restartWindowMs: 1_000, restartDelayMs: 100, maxRestartDelayMs: 1_000 });
      readyAll(t);
      for (let i = 0; i < 3; i++) {
        t.cluster.workers[t.cluster.workers.length - 1].exit(null, 'SIGKILL');
        t.timers.advance(100);
        t.cluster.workers[t.cluster.workers.length - 1].emit({ type: READY, pid: 0, preloaded: false });
        t.timers.advance(1_000);
      }
      expect(t.sup.currentState).toBe('running');
      expect(t.lines.filter((l) => l.includes('replacing it in 100 ms'))).toHaveLength(3);
    });

    it('the watchdog kills a ready worker whose heartbeat stopped (SIGTERM, then SIGKILL) and replaces it', () => {
      const t = start({ preload: false, heartbeatIntervalMs: 500, heartbeatTimeoutMs: 2_000 });
      readyAll(t);
      const [w0, w1] = t.cluster.workers;
      for (let i = 0; i < 6; i++) {
        t.timers.advance(500);
        w1.emit({ type: HEARTBEAT, requests: 0, rssMb: 50 });
      }
      expect(w0.signals).toEqual(['SIGTERM']);
      expect(w1.signals).toEqual([]);
      t.timers.advance(2_000);
      expect(w0.signals).toEqual(['SIGTERM', 'SIGKILL']);
      w0.exit(null, 'SIGKILL');
      t.timers.advance(100);
      expect(t.cluster.workers[2].env[PRELOAD_ENV.workerIndex]).toBe('0');
      expect(t.lines.some((l) => /worker 0 .* has not answered for \d+ ms \(hung event loop\): killing it/.test(l))).toBe(true);
      expect(t.cluster.workers[0].env[PRELOAD_ENV.heartbeatMs]).toBe('500');
    });

    it('recycles a worker past maxRequests (plus its jitter) gracefully: replacement first, then a drain', () => {
      const t = start({ preload: false, maxRequests: 100, maxRequestsJitter: 10 });
      readyAll(t);
      const [w0] = t.cluster.workers;
      w0.emit({ type: HEARTBEAT, requests: 99, rssMb: 50 });
      expect(t.cluster.workers).toHaveLength(2);
      w0.emit({ type: HEARTBEAT, requests: 111, rssMb: 50 });
      expect(t.cluster.workers).toHaveLength(3);
      expect(shutdowns(w0)).toEqual([]);
      t.cluster.workers[2].emit({ type: READY, pid: 0, preloaded: false });
      expect(shutdowns(w0)).toEqual([{ type: SHUTDOWN }]);
      w0.exit(0);
      expect(t.lines).toContain(`worker 0 replaced: pid ${w0.pid} → ${t.cluster.workers[2].pid}; draining the old one`);
      expect(t.lines).toContain(`worker 0 (pid ${w0.pid}) exited with code 0 (replaced)`);
      expect(t.lines.some((l) => l.includes('served 111 requests (maxRequests 100)'))).toBe(true);
    });

    it('recycles a worker whose RSS is over maxRssMb', () => {
      const t = start({ preload: false, maxRssMb: 200 });
      readyAll(t);
      t.cluster.workers[1].emit({ type: HEARTBEAT, requests: 5, rssMb: 250 });
      expect(t.cluster.workers[2].env[PRELOAD_ENV.workerIndex]).toBe('1');
      expect(t.lines.some((l) => l.includes('RSS 250 MB is over maxRssMb 200'))).toBe(true);
    });

    it('SIGTTIN adds a worker, SIGTTOU drains the highest index, never below one', () => {
      const t = start({ preload: false });
      readyAll(t);
      t.proc.raise('SIGTTIN');
      expect(t.cluster.workers[2].env[PRELOAD_ENV.workerIndex]).toBe('2');
      t.proc.raise('SIGTTOU');
      expect(shutdowns(t.cluster.workers[2])).toEqual([{ type: SHUTDOWN }]);
      t.cluster.workers[2].exit(0);
      t.proc.raise('SIGTTOU');
      t.cluster.workers[1].exit(0);
      t.proc.raise('SIGTTOU');
      expect(t.lines).toContain('WARN SIGTTOU ignored: the cluster keeps at least one worker');
      expect([...t.sup.workerPids().keys()]).toEqual([0]);
      t.timers.advance(60_000);
      expect(t.cluster.workers).toHaveLength(3);
    });

    it('a worker that stopped on a signal sent to it is not a crash: no restart limit, no backoff; Ctrl-C then stops the cluster', async () => {
      const t = start({ preload: false, maxRestarts: 1, restartDelayMs: 100 });
      readyAll(t);
      for (let i = 0; i < 3; i++) {
        const w = t.cluster.workers[t.cluster.workers.length - 1];
        w.emit({ type: STOPPING, reason: 'SIGTERM' });
        w.exit(0);
        t.timers.advance(100);
        t.cluster.workers[t.cluster.workers.length - 1].emit({ type: READY, pid: 0, preloaded: false });
      }
      expect(t.sup.currentState).toBe('running');
      expect(t.lines.filter((l) => l.includes('it stopped on SIGTERM; replacing it in 100 ms'))).toHaveLength(3);
      const before = t.cluster.children.length;
      t.cluster.workers[0].emit({ type: STOPPING, reason: 'SIGINT' });
      t.cluster.workers[0].exit(0);
      t.proc.raise('SIGINT');
      t.timers.advance(1_000);
      expect(t.cluster.children.length).toBe(before);
      expect(t.sup.currentState).toBe('stopping');
    });

    it('ignores malformed messages of its own protocol (logged) and foreign ones (silently)', () => {
      const t = start({ preload: false, maxRequests: 10 });
      readyAll(t);
      const [w0] = t.cluster.workers;
      for (const m of [
        42,
        null,
        'x',
        [1],
        { type: 'app:mine' },
        { type: HEARTBEAT, requests: 'many', rssMb: 1 },
        { type: HEARTBEAT, requests: 1e9, rssMb: -1 },
        { type: CLUSTER_STATUS_REQUEST, id: 'a' },
        { type: STOPPING, reason: { x: 1 } },
      ])
        w0.emit(m);
      expect(t.cluster.workers).toHaveLength(2);
      expect(w0.sent.filter((m) => (m as { type: string }).type === CLUSTER_STATUS)).toEqual([]);
      expect(t.lines.filter((l) => l.includes('sent a malformed'))).toHaveLength(4);
      t.cluster.workers[0].exit(0);
      expect(t.lines.some((l) => l.includes('stopped on'))).toBe(false);
    });

    it('status: a step the preloader failed also says how the ready workers redid it; a malformed `ran` is refused', () => {
      const t = start();
      const manifestPath = join(gen(t), 'run', 'manifest.json');
      mkdirSync(join(gen(t), 'run'), { recursive: true });
      const line = (name: string, status: string) => ({ name, status, ranIn: 'preloader', durationMs: 5, critical: false });
      writeFileSync(
        manifestPath,
        JSON.stringify({ steps: [line('migrations', 'complete'), line('pictures', 'failed'), line('starter', 'skipped')] }),
      );
      preloadOk(t);
      const [w0, w1] = t.cluster.workers;
      w0.emit({
        type: READY,
        pid: w0.pid,
        preloaded: true,
        ran: [
          { name: 'pictures', status: 'complete' },
          { name: 'starter', status: 'complete' },
        ],
      });
      w1.emit({
        type: READY,
        pid: w1.pid,
        preloaded: true,
        ran: [
          { name: 'pictures', status: 'failed' },
          { name: 'starter', status: 'complete' },
        ],
      });
      const status = () => (t.sup as unknown as { status(): { preload: { steps: Array<{ name: string; workers?: unknown }> } } }).status();
      expect(status().preload.steps.map((s) => [s.name, s.workers])).toEqual([
        ['migrations', undefined],
        ['pictures', { of: 2, ran: 2, complete: 1 }],
        ['starter', { of: 2, ran: 2, complete: 2 }],
      ]);
      // A replacement that is not ready yet does not count; a malformed report is refused (the worker stays booting).
      w1.exit(null, 'SIGKILL');
      t.timers.advance(100);
      const w2 = t.cluster.workers[2];
      w2.emit({ type: READY, pid: w2.pid, preloaded: true, ran: [{ name: 'pictures', status: 'done!' }] });
      expect(t.lines.some((l) => l.includes('sent a malformed'))).toBe(true);
      expect(status().preload.steps[1].workers).toEqual({ of: 1, ran: 1, complete: 1 });
    });

    it('metrics: a scrape asks every ready process, answers when all did or at the timeout (a late one with its last report), and carries the counters of one that died', () => {
      const t = start({ preload: false, workers: 3 });
      readyAll(t);
      const [w0, w1, w2] = t.cluster.workers;
      const collects = (c: FakeChild) => c.sent.filter((m) => (m as { type: string }).type === METRICS_COLLECT) as Array<{ id: number }>;
      const results = (c: FakeChild) =>
        c.sent.filter((m) => (m as { type: string }).type === METRICS_RESULT) as Array<{
          id: number;
          reports: Array<{ index: number; fresh: boolean; metrics: string }>;
          retired: string;
          status: { target: number };
        }>;
      const series = (n: number) => [
        { name: 'http_requests_total', help: 'h', type: 'counter', aggregator: 'sum', values: [{ value: n, labels: {} }] },
      ];
      // What a worker sends: its registry's JSON as one string, relayed as it is.
      const requests = (n: number) => JSON.stringify(series(n));
      // All three answer: the result comes at once, without waiting for the timeout.
      w0.emit({ type: METRICS_REQUEST, id: 7, timeoutMs: 500 });
      for (const [w, n] of [
        [w0, 1],
        [w1, 2],
        [w2, 3],
      ] as const)
        w.emit({ type: METRICS_REPORT, id: collects(w)[0].id, metrics: requests(n) });
      expect(results(w0)).toHaveLength(1);
      expect(results(w0)[0]).toMatchObject({
        id: 7,
        reports: [
          { index: 0, fresh: true, metrics: requests(1) },
          { index: 1, fresh: true },
          { index: 2, fresh: true },
        ],
        retired: '[]',
        status: { target: 3 },
      });
      // w2 hangs: the next scrape answers at the timeout with w2's last report, marked stale.
      w1.emit({ type: METRICS_REQUEST, id: 8, timeoutMs: 500 });
      for (const [w, n] of [
        [w0, 4],
        [w1, 5],
      ] as const)
        w.emit({ type: METRICS_REPORT, id: collects(w)[1].id, metrics: requests(n) });
      expect(results(w1)).toHaveLength(0);
      t.timers.advance(500);
      expect(
        results(w1)[0].reports.map((r) => [r.index, r.fresh, (JSON.parse(r.metrics) as ReturnType<typeof series>)[0].values[0].value]),
      ).toEqual([
        [0, true, 4],
        [1, true, 5],
        [2, false, 3],
      ]);
      // w1 dies: its last counts join the retired totals; it is no longer among the reports.
      w1.exit(null, 'SIGKILL');
      w0.emit({ type: METRICS_REQUEST, id: 9, timeoutMs: 500 });
      t.timers.advance(500);
      const last = results(w0)[1];
      expect(last.reports.map((r) => r.index)).toEqual([0, 2]);
      expect(JSON.parse(last.retired)).toEqual([
        { name: 'http_requests_total', help: 'h', type: 'counter', aggregator: 'sum', values: [{ value: 5, labels: {} }] },
      ]);
      // A report that is not JSON is not carried when its worker goes (said once); a malformed report or request is refused.
      w2.emit({ type: METRICS_REPORT, id: 0, metrics: 'lots' });
      w2.exit(null, 'SIGKILL');
      expect(t.lines).toContain(`WARN worker 2 (pid ${w2.pid}) left a metrics report that is not JSON: its counters are not carried`);
      w0.emit({ type: METRICS_REPORT, id: 1, metrics: [1, 2] });
      w0.emit({ type: METRICS_REQUEST, id: 'x', timeoutMs: 10 });
      expect(t.lines.filter((l) => l.includes('sent a malformed nest-preload:metrics'))).toHaveLength(2);
    });

    it("metrics: a worker's last report (id 0, as its app closes) is what is carried when it goes, answers a scrape still waiting on it, and an older answer after it is not taken", () => {
      const t = start({ preload: false, workers: 2 });
      readyAll(t);
      const [w0, w1] = t.cluster.workers;
      const series = (n: number) =>
        JSON.stringify([{ name: 'jobs_total', help: 'j', type: 'counter', aggregator: 'sum', values: [{ value: n, labels: {} }] }]);
      const collects = (c: FakeChild) => c.sent.filter((m) => (m as { type: string }).type === METRICS_COLLECT) as Array<{ id: number }>;
      const results = (c: FakeChild) =>
        c.sent.filter((m) => (m as { type: string }).type === METRICS_RESULT) as Array<{
          reports: Array<{ index: number; fresh: boolean; metrics: string }>;
          retired: string;
        }>;
      // A scrape is waiting on w1, which is draining: its last report answers it at once, fresh.
      w0.emit({ type: METRICS_REQUEST, id: 1, timeoutMs: 5_000 });
      w0.emit({ type: METRICS_REPORT, id: collects(w0)[0].id, metrics: series(1) });
      expect(results(w0)).toHaveLength(0);
      w1.emit({ type: METRICS_REPORT, id: 0, metrics: series(9) });
      expect(results(w0).map((r) => r.reports.map((x) => [x.index, x.fresh, JSON.parse(x.metrics)[0].values[0].value]))).toEqual([
        [
          [0, true, 1],
          [1, true, 9],
        ],
      ]);
      // The answer to that collection, sent before its app closed, arrives after: older, not taken.
      w1.emit({ type: METRICS_REPORT, id: collects(w1)[0].id, metrics: series(7) });
      w1.exit(0);
      w0.emit({ type: METRICS_REQUEST, id: 2, timeoutMs: 5_000 });
      w0.emit({ type: METRICS_REPORT, id: collects(w0)[1].id, metrics: series(1) });
      expect(JSON.parse(results(w0)[1].retired)).toEqual([
        { name: 'jobs_total', help: 'j', type: 'counter', aggregator: 'sum', values: [{ value: 9, labels: {} }] },
      ]);
    });

    it('counts restarts by why the replaced worker ended, and reloads; status gives both', () => {
      const t = start({ preload: false, workers: 2 });
      readyAll(t);
      const status = () => (t.sup as unknown as { status(): { restartsByReason: Record<string, number>; reloads: number } }).status();
      t.cluster.workers[0].exit(null, 'SIGKILL');
      t.timers.advance(100);
      t.cluster.workers[1].exit(1);
      t.timers.advance(100);
      expect(status()).toMatchObject({ restartsByReason: { killed: 1, crashed: 1 }, reloads: 0 });
      expect([
        restartReason(0, null, null),
        restartReason(null, 'SIGTERM', 'hung event loop'),
        restartReason(null, 'SIGKILL', 'boot timeout'),
        restartReason(null, 'SIGKILL', 'the app cannot start'),
      ]).toEqual(['exited', 'hung', 'boot_timeout', 'killed_by_supervisor']);
    });

    it('the lowest-index ready worker leads; when it dies the next one is told', () => {
      const t = start({ preload: false });
      readyAll(t);
      const [w0, w1] = t.cluster.workers;
      const leads = (c: FakeChild) => c.sent.filter((m) => (m as { type: string }).type === LEADER);
      expect(leads(w0)).toEqual([{ type: LEADER, leader: true }]);
      expect(leads(w1)).toEqual([]);
      w0.exit(null, 'SIGKILL');
      expect(leads(w1)).toEqual([{ type: LEADER, leader: true }]);
    });

    it("confirms a draining worker's server close at once: it exits only once answered", () => {
      const t = start();
      preloadOk(t);
      readyAll(t);
      const [w0] = t.cluster.workers;
      t.proc.raise('SIGHUP');
      t.cluster.workers[2].emit({ type: READY, pid: t.cluster.workers[2].pid, preloaded: true });
      expect(w0.sent.some((m) => (m as { type: string }).type === SHUTDOWN)).toBe(true);
      const confirms = () => w0.sent.filter((m) => (m as { type: string }).type === SERVER_CLOSED_ACK);
      expect(confirms()).toEqual([]);
      w0.emit({ type: SERVER_CLOSED });
      expect(confirms()).toEqual([{ type: SERVER_CLOSED_ACK }]);
    });

    it('answers a cluster-status request with the view only the primary has', () => {
      const t = start();
      preloadOk(t);
      readyAll(t);
      t.cluster.workers[0].emit({ type: HEARTBEAT, requests: 7, rssMb: 61 });
      t.cluster.workers[1].emit({ type: CLUSTER_STATUS_REQUEST, id: 3 });
      const reply = t.cluster.workers[1].sent.find((m) => (m as { type: string }).type === CLUSTER_STATUS) as {
        id: number;
        view: Record<string, unknown>;
      };
      expect(reply).toEqual({
        type: CLUSTER_STATUS,
        id: 3,
        view: {
          state: 'running',
          ready: 2,
          target: 2,
          restarts: 0,
          generation: t.cluster.preloader.env[PRELOAD_ENV.generation],
          preloadDurationMs: 0,
          workers: [
            { index: 0, pid: t.cluster.workers[0].pid, ready: true, leader: true, requests: 7, rssMb: 61 },
            { index: 1, pid: t.cluster.workers[1].pid, ready: true, leader: false, requests: 0, rssMb: null },
          ],
        },
      });
    });

    it('calls the hooks with typed payloads; a throwing hook is logged, not fatal', async () => {
      const calls: string[] = [];
      const hooks = {
        onStarting: () => calls.push('onStarting'),
        preFork: (i: { role: string; index: number | null }) => calls.push(`preFork ${i.role} ${i.index}`),
        postFork: (i: { role: string; index: number | null }) => calls.push(`postFork ${i.role} ${i.index}`),
        workerReady: (i: { index: number }) => calls.push(`workerReady ${i.index}`),
        whenReady: (i: { workers: number }) => {
          calls.push(`whenReady ${i.workers}`);
          throw new Error('oops');
        },
        onReload: (i: { workers: number }) => calls.push(`onReload ${i.workers}`),
        workerExit: (i: { index: number; expected: boolean }) => calls.push(`workerExit ${i.index} ${i.expected}`),
        onExit: (i: { code: number }) => calls.push(`onExit ${i.code}`),
      };
      const t = start({ preload: false, workers: 1, hooks });
      readyAll(t);
      t.proc.raise('SIGHUP');
      t.cluster.workers[1].emit({ type: READY, pid: 0, preloaded: false });
      t.cluster.workers[0].exit(0);
      t.proc.raise('SIGTERM');
      t.cluster.workers[1].exit(0);
      await settle();
      expect(calls).toEqual([
        'onStarting',
        'preFork worker 0',
        'postFork worker 0',
        'workerReady 0',
        'whenReady 1',
        'onReload 1',
        'preFork worker 0',
        'postFork worker 0',
        'workerReady 0',
        'workerExit 0 true',
        'workerExit 0 true',
        'onExit 0',
      ]);
      expect(t.lines).toContain('ERROR hook whenReady threw: oops');
      expect(t.exit()).toBe(0);
    });
  });

  it('does not restart workers it stopped itself', async () => {
    const t = start({ preload: false });
    for (const w of t.cluster.workers) w.emit({ type: READY, pid: w.pid, preloaded: false });
    t.proc.raise('SIGTERM');
    for (const w of t.cluster.workers) w.exit(null, 'SIGTERM');
    t.timers.advance(10_000);
    await settle();
    expect(t.cluster.children).toHaveLength(2);
    expect(t.exit()).toBe(0);
  });
});

describe('Supervisor: the start-up timeline', () => {
  const T0 = 1_700_000_000_000;
  // The trace goes into the spec's own run root.
  function withTimeline(over: Record<string, unknown> = {}) {
    const file = join(mkdtempSync(join(tmpdir(), 'sup-tl-')), 'out', 'timeline.json');
    return { file, t: start({ timeline: file, ...over }) };
  }
  const read = (file: string) => JSON.parse(require('node:fs').readFileSync(file, 'utf8'));
  const span = (name: string, kind: string, start: number, end: number) => ({ name, kind, start: T0 + start, end: T0 + end });
  const report = (c: FakeChild, spans: unknown[], origin = 10) => c.emit({ type: TIMELINE, origin: T0 + origin, spans, costMs: 0.02 });

  it('tells every child to record, collects what each reports, and writes the trace when the cluster is ready', () => {
    const { t, file } = withTimeline();
    const pre = t.cluster.preloader;
    expect(pre.env[PRELOAD_ENV.recordTimeline]).toBe('1');
    t.timers.advance(100);
    report(pre, [
      span('app build', 'app', 20, 60),
      span('step migrations', 'step', 60, 90),
      span('lock wait step-migrations', 'lock', 60, 75),
    ]);
    preloadOk(t);
    const [w0, w1] = t.cluster.workers;
    expect(t.cluster.workers.map((w) => w.env[PRELOAD_ENV.recordTimeline])).toEqual(['1', '1']);
    t.timers.advance(50);
    report(w0, [span('app build', 'app', 110, 140), span('serve', 'serve', 140, 145)], 105);
    w0.emit({ type: READY, pid: w0.pid, preloaded: true });
    expect(existsSync(file)).toBe(false);
    report(w1, [span('step seed', 'step', 110, 150), span('lock wait step-seed', 'lock', 110, 142)], 105);
    w1.emit({ type: READY, pid: w1.pid, preloaded: true });
    const trace = read(file);
    const processes = trace.traceEvents
      .filter((e: { name: string }) => e.name === 'process_name')
      .map((e: { pid: number; args: { name: string } }) => e.args.name);
    expect(processes).toEqual(['primary (pid 42)', `preloader (pid ${pre.pid})`, `worker 0 (pid ${w0.pid})`, `worker 1 (pid ${w1.pid})`]);
    const x = trace.traceEvents
      .filter((e: { ph: string }) => e.ph === 'X')
      .map((e: { pid: number; name: string; ts: number; dur: number }) => `${e.pid}:${e.name}@${e.ts / 1000}+${e.dur / 1000}`);
    expect(x).toEqual(
      expect.arrayContaining([
        `42:cluster start@0+150`,
        `42:preload gen-1@0+100`,
        `${pre.pid}:fork@0+10`,
        `${pre.pid}:step migrations@60+30`,
        `${w0.pid}:fork@100+5`,
        `${w1.pid}:lock wait step-seed@110+32`,
      ]),
    );
    expect(trace.otherData).toMatchObject({ primaryPid: 42, target: 2, clusterReadyMs: 150, recordingCostMs: { children: 0.06 } });
    const status = (t.sup as unknown as { status(): { workers: Array<{ index: number; lockWaitMs: number | null }> } }).status();
    expect(status.workers.map((w) => [w.index, w.lockWaitMs])).toEqual([
      [0, 0],
      [1, 32],
    ]);
  });

  it('after the cluster is ready, a replacement and an exit are written within TIMELINE_WRITE_MS, and the last state when it stops', () => {
    const { t, file } = withTimeline();
    preloadOk(t);
    for (const w of t.cluster.workers) w.emit({ type: READY, pid: w.pid, preloaded: true });
    const [w0] = t.cluster.workers;
    w0.exit(1);
    t.timers.advance(150);
    const replacement = t.cluster.workers[2];
    expect(replacement).toBeDefined();
    expect(read(file).traceEvents.some((e: { pid: number }) => e.pid === replacement.pid)).toBe(false);
    t.timers.advance(500);
    const after = read(file);
    expect(
      after.traceEvents.filter((e: { pid: number; ph: string }) => e.pid === w0.pid && e.ph === 'i').map((e: { name: string }) => e.name),
    ).toEqual(['forked', 'ready', 'exit (code 1)']);
    expect(after.traceEvents.some((e: { pid: number; name: string }) => e.pid === replacement.pid && e.name === 'process_name')).toBe(true);
    t.proc.raise('SIGTERM');
    for (const c of t.cluster.live) c.exit(0);
    expect(t.sup.currentState).toBe('stopped');
    expect(
      read(file)
        .traceEvents.filter((e: { pid: number; ph: string }) => e.pid === replacement.pid && e.ph === 'i')
        .map((e: { name: string }) => e.name),
    ).toEqual(['forked', 'exit (code 0)']);
    expect(t.timers.pending).toBe(0);
  });

  it('a cluster that never became ready still leaves its timeline, saying so', () => {
    const { t, file } = withTimeline({ workers: 1 });
    t.cluster.preloader.emit({
      type: PRELOAD_DONE,
      ok: false,
      manifestPath: null,
      reason: 'the app failed to initialize: boom',
      lingering: [],
      appFailed: true,
    });
    t.cluster.preloader.exit(3);
    expect(t.sup.currentState).toBe('stopped');
    const trace = read(file);
    expect(trace.otherData.clusterReadyMs).toBeNull();
    expect(
      trace.traceEvents
        .filter((e: { ph: string; pid: number }) => e.ph === 'i' && e.pid === t.cluster.preloader.pid)
        .map((e: { name: string }) => e.name),
    ).toEqual(['forked', 'preload abandoned', 'exit (code 3)']);
  });

  it('a timeline that cannot be written is said once, with the fix, and the cluster goes on', () => {
    const blocker = join(mkdtempSync(join(tmpdir(), 'sup-tl-')), 'a-file');
    writeFileSync(blocker, '');
    // Its dir would have to be a file: every write fails.
    const t = start({ timeline: join(blocker, 'timeline.json'), preload: false, workers: 2 });
    for (const w of t.cluster.workers) w.emit({ type: READY, pid: w.pid, preloaded: false });
    t.cluster.workers[0].exit(1);
    t.timers.advance(1_000);
    const warnings = t.lines.filter((l) => l.startsWith('WARN could not write the start-up timeline'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`to ${join(blocker, 'timeline.json')}: `);
    expect(warnings[0]).toMatch(
      /\(give it a writable path — the timeline option, or NEST_PRELOAD_TIMELINE_FILE where the option is not set — or turn it off: timeline: false, NEST_PRELOAD_TIMELINE_FILE=off\)$/,
    );
    expect(t.sup.currentState).toBe('running');
  });

  it('a malformed timeline is refused with a warning and counts for nothing; with timeline: false nothing is recorded or written', () => {
    const { t, file } = withTimeline({ preload: false, workers: 1 });
    const [w0] = t.cluster.workers;
    w0.emit({ type: TIMELINE, origin: T0, spans: [{ name: 'x', kind: 'nope', start: 1, end: 0 }], costMs: 0 });
    expect(t.lines).toContain(`WARN worker 0 (pid ${w0.pid}) sent a malformed timeline: ignored`);
    w0.emit({ type: READY, pid: w0.pid, preloaded: false });
    expect(read(file).traceEvents.filter((e: { pid: number; ph: string }) => e.pid === w0.pid && e.ph === 'X')).toEqual([]);
    const off = start({ preload: false, workers: 1, timeline: false });
    const [w] = off.cluster.workers;
    expect(w.env[PRELOAD_ENV.recordTimeline]).toBeUndefined();
    report(w, [span('app build', 'app', 1, 2)]);
    w.emit({ type: READY, pid: w.pid, preloaded: false });
    expect(off.lines.some((l) => l.includes('timeline'))).toBe(false);
    const status = (off.sup as unknown as { status(): { workers: Array<{ lockWaitMs: number | null }> } }).status();
    expect(status.workers[0].lockWaitMs).toBeNull();
  });
});
