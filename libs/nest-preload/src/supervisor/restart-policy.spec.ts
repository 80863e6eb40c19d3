import { BOOT_TIMEOUT, bootErrorHalts, RestartPolicy } from './restart-policy';

const options = { restartDelayMs: 100, maxRestartDelayMs: 1_000, maxRestarts: 2, restartWindowMs: 10_000, minUptimeMs: 5_000 };
const end = (index: number, at: number, readyAt: number | null) => ({ index, at, readyAt, reason: `worker ${index} died` });

describe('RestartPolicy', () => {
  it('an exit before ready or within minUptimeMs of ready is unstable and doubles the delay, capped', () => {
    const p = new RestartPolicy(options);
    const delays = [0, 1, 2, 3, 4, 5].map((i) => p.onEnd(end(0, i * 100, i * 100 - 50), 2, 1));
    expect(delays.map((d) => (d.action === 'respawn' ? d.delayMs : d.action))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(delays.every((d) => d.action === 'respawn' && d.unstable)).toBe(true);
  });

  it('a worker that served minUptimeMs was stable: its index starts over', () => {
    const p = new RestartPolicy(options);
    p.onEnd(end(0, 100, null), 1, 0);
    p.onEnd(end(0, 200, 150), 1, 0);
    expect(p.onEnd(end(0, 10_000, 4_000), 1, 0)).toEqual({ action: 'respawn', delayMs: 100, unstable: false, unstableCount: 0 });
    expect(p.onEnd(end(0, 10_100, null), 1, 0)).toMatchObject({ action: 'respawn', delayMs: 100, unstableCount: 1 });
  });

  it('counts per index: one looping index never halts while another serves', () => {
    const p = new RestartPolicy(options);
    for (let i = 0; i < 10; i++) expect(p.onEnd(end(1, i * 10, null), 2, 1).action).toBe('respawn');
  });

  it('halts only when every index is crash-looping and none serves, saying which error, how often, since when', () => {
    const p = new RestartPolicy(options);
    for (let i = 0; i < 3; i++) expect(p.onEnd(end(0, i * 10, null), 2, 0).action).toBe('respawn');
    for (let i = 0; i < 2; i++) expect(p.onEnd(end(1, 100 + i * 10, null), 2, 0).action).toBe('respawn');
    const halt = p.onEnd(end(1, 130, null), 2, 0);
    expect(halt).toEqual({
      action: 'halt',
      message: expect.stringContaining('every worker index (2) crashed more than maxRestarts (2) times within restartWindowMs (10000 ms)'),
    });
    expect(halt.action === 'halt' && halt.message).toMatch(/crashing since 130 ms ago; last: worker 1 died$/);
  });

  it('exits spread wider than the window are not a loop', () => {
    const p = new RestartPolicy(options);
    for (let i = 0; i < 10; i++) expect(p.onEnd(end(0, i * 6_000, null), 1, 0).action).toBe('respawn');
  });

  it('forgets indices scaled away', () => {
    const p = new RestartPolicy(options);
    p.onEnd(end(3, 0, null), 4, 1);
    p.forgetFrom(3);
    expect(p.unstableCount(3, 1)).toBe(0);
  });
});

describe('bootErrorHalts', () => {
  const first = false;
  it.each([
    ['exited on its own before ready, first start', { readyAt: null, signal: null, killedBy: null }, first, true],
    ['crashed itself (SIGABRT) before ready, first start', { readyAt: null, signal: 'SIGABRT' as const, killedBy: null }, first, true],
    ['not ready within bootTimeoutMs, first start', { readyAt: null, signal: 'SIGKILL' as const, killedBy: BOOT_TIMEOUT }, first, true],
    ['killed by SIGKILL from elsewhere (OOM) before ready', { readyAt: null, signal: 'SIGKILL' as const, killedBy: null }, first, false],
    ['killed by the watchdog', { readyAt: null, signal: 'SIGKILL' as const, killedBy: 'hung event loop' }, first, false],
    ['exited on its own after the cluster had served', { readyAt: null, signal: null, killedBy: null }, true, false],
    ['a worker that had been ready', { readyAt: 10, signal: null, killedBy: null }, first, false],
  ])('%s → %s', (_, endInfo, clusterWasReady, halts) => {
    expect(bootErrorHalts(endInfo, clusterWasReady)).toBe(halts);
  });
});
