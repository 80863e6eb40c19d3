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

export const DEFAULT_FETCH_POLICY: FetchPolicy = { timeoutMs: 30_000, retries: 3, retryDelayMs: 1_000 };
