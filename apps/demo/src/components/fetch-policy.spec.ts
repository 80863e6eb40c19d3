import { MAX_RETRY_DELAY_MS, retryDelay, worstCaseMs } from './fetch-policy';

describe('the bundle fetch policy', () => {
  it('doubles the delay before each retry, never past the cap (no timer overflow at the largest settings)', () => {
    const policy = { timeoutMs: 1_000, retries: 20, retryDelayMs: 600_000 };
    expect([1, 2, 20].map((a) => retryDelay({ ...policy, retryDelayMs: 100 }, a))).toEqual([100, 200, MAX_RETRY_DELAY_MS]);
    expect(retryDelay(policy, 20)).toBe(MAX_RETRY_DELAY_MS);
  });

  it('the worst case of one bundle: every attempt times out, plus the waits (the defaults stay below the 120 s preload timeout)', () => {
    expect(worstCaseMs({ timeoutMs: 1_000, retries: 2, retryDelayMs: 100 })).toBe(3_000 + 100 + 200);
    expect(worstCaseMs({ timeoutMs: 30_000, retries: 2, retryDelayMs: 1_000 })).toBe(93_000);
  });
});
