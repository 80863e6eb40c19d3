import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TimelineMessage } from '../ipc/messages';
import type { HeldLock, LockBackend } from './lock-backend';

/** StartupLock and the recorder from one fresh module registry, with recording on (as in a cluster's child). */
function recording() {
  const before = process.env.NEST_PRELOAD_RECORD_TIMELINE;
  process.env.NEST_PRELOAD_RECORD_TIMELINE = '1';
  try {
    let loaded!: {
      StartupLock: typeof import('./startup-lock').StartupLock;
      recorder: typeof import('../timeline/recorder').startRecorder;
      LockTimeoutError: typeof import('../errors/preload.error').LockTimeoutError;
      resolve: typeof import('../preload.options').resolvePreloadOptions;
    };
    jest.isolateModules(() => {
      loaded = {
        StartupLock: require('./startup-lock').StartupLock,
        recorder: require('../timeline/recorder').startRecorder,
        LockTimeoutError: require('../errors/preload.error').LockTimeoutError,
        resolve: require('../preload.options').resolvePreloadOptions,
      };
    });
    return loaded;
  } finally {
    if (before === undefined) delete process.env.NEST_PRELOAD_RECORD_TIMELINE;
    else process.env.NEST_PRELOAD_RECORD_TIMELINE = before;
  }
}

describe('StartupLock in the start-up timeline', () => {
  it('records the wait for each lock — until held, or until it timed out (marked so) — and not the work under it', async () => {
    const { StartupLock, recorder, LockTimeoutError, resolve } = recording();
    const slow = (ms: number, outcome: 'held' | 'timeout'): LockBackend => ({
      kind: 'test',
      crossHost: true,
      withLock: async <T>(name: string, fn: (held: HeldLock) => Promise<T>) => {
        await new Promise((r) => setTimeout(r, ms));
        if (outcome === 'timeout') throw new LockTimeoutError(`timed out waiting for ${name}`, name, ms);
        return fn({ name, signal: new AbortController().signal, session: null });
      },
    });
    const lockDir = mkdtempSync(join(tmpdir(), 'startup-lock-spec-'));
    const held = new StartupLock(resolve({ lockDir, databaseLock: slow(40, 'held') }));
    expect(
      await held.withLock(
        'seed',
        async () => {
          await new Promise((r) => setTimeout(r, 60));
          return 'seeded';
        },
        { scope: 'database' },
      ),
    ).toBe('seeded');
    const timedOut = new StartupLock(resolve({ lockDir, databaseLock: slow(30, 'timeout') }));
    await expect(timedOut.withLock('migrations', async () => 'ran', { scope: 'database' })).rejects.toThrow(LockTimeoutError);
    const sent: TimelineMessage[] = [];
    recorder.send({ connected: true, send: async (m) => void sent.push(m as TimelineMessage) });
    const waits = sent[0].spans.map((s) => ({ name: s.name, kind: s.kind, args: s.args, ms: s.end - s.start }));
    expect(waits.map(({ ms: _ms, ...rest }) => rest)).toEqual([
      { name: 'lock wait seed', kind: 'lock', args: { scope: 'database' } },
      { name: 'lock wait migrations', kind: 'lock', args: { scope: 'database', timedOut: true } },
    ]);
    // The wait only: 40 ms until held (not the 60 ms of work under it), 30 ms until the timeout.
    expect(waits[0].ms).toBeGreaterThanOrEqual(35);
    expect(waits[0].ms).toBeLessThan(95);
    expect(waits[1].ms).toBeGreaterThanOrEqual(25);
  });
});
