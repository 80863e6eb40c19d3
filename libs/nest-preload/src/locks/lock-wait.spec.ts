import { LockWait } from './lock-wait';

describe('LockWait', () => {
  it('says who holds the lock when the wait starts, again every interval (not on every attempt), and the time waited once acquired', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      const lines: string[] = [];
      const wait = new LockWait('startup lock "seed"', 2_000, (line) => lines.push(line), 100);
      let asked = 0;
      const holder = () => `pid 42 (worker ${++asked})`;
      for (const at of [0, 50, 99, 110, 150, 215, 260]) {
        jest.setSystemTime(1_000_000 + at);
        await wait.blocked(holder);
      }
      jest.setSystemTime(1_000_000 + 290);
      wait.acquired();
      expect(lines).toEqual([
        'The startup lock "seed" is held by pid 42 (worker 1); waiting up to 2.0 s.',
        'Still waiting for the startup lock "seed", held by pid 42 (worker 2) (waited 0.1 s of 2.0 s).',
        'Still waiting for the startup lock "seed", held by pid 42 (worker 3) (waited 0.2 s of 2.0 s).',
        'Acquired the startup lock "seed" after waiting 0.3 s.',
      ]);
      expect(asked).toBe(3);
    } finally {
      jest.useRealTimers();
    }
  });

  it('an acquisition that never waited says nothing; a holder that cannot be told is "another process"', async () => {
    const quiet: string[] = [];
    new LockWait('x', 1_000, (line) => quiet.push(line)).acquired();
    expect(quiet).toEqual([]);
    const lines: string[] = [];
    await new LockWait('startup lock "x"', 1_000, (line) => lines.push(line)).blocked(() => {
      throw new Error('unreadable');
    });
    expect(lines).toEqual(['The startup lock "x" is held by another process; waiting up to 1.0 s.']);
  });
});
