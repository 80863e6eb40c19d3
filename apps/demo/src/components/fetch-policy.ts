// No imports: the primary reads its defaults through config.ts, and must stay small.

/** How a download is tried: each attempt bounded, transient failures retried with doubling delays. */
export interface FetchPolicy {
  /** Each attempt's bound (the response and its whole body). */
  timeoutMs: number;
  /** Attempts after the first, for transient failures only. */
  retries: number;
  /** Delay before the first retry; doubled before each next one. */
  retryDelayMs: number;
}

export const DEFAULT_FETCH_POLICY: FetchPolicy = { timeoutMs: 30_000, retries: 2, retryDelayMs: 1_000 };

/** No single wait between attempts is longer than this. */
export const MAX_RETRY_DELAY_MS = 30_000;

/** The wait before retry number `attempt` (1-based): the first delay, doubled each time, capped. */
export const retryDelay = (policy: FetchPolicy, attempt: number): number =>
  Math.min(policy.retryDelayMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);

/** The longest one bundle can take to give up: every attempt running out its bound, and the waits between. */
export function worstCaseMs(policy: FetchPolicy): number {
  let total = (policy.retries + 1) * policy.timeoutMs;
  for (let attempt = 1; attempt <= policy.retries; attempt++) total += retryDelay(policy, attempt);
  return total;
}
