import type { Redis } from 'ioredis';
import { ExternalCache } from './external-cache';

/** Options of {@link RedisCache}. */
export interface RedisCacheOptions {
  /**
   * How long `QUIT` may take before the socket is simply dropped.
   * @default 2000
   */
  quitTimeoutMs?: number;
}

/**
 * An ioredis client as an {@link ExternalCache}: torn down with `QUIT` (bounded), then
 * `disconnect()`, so no reconnect loop survives in the preloader or a stopping worker.
 */
export class RedisCache extends ExternalCache {
  private closed: Promise<void> | null = null;
  private readonly quitTimeoutMs: number;

  constructor(
    /** The client; this cache owns it and closes it. */
    readonly client: Redis,
    options: RedisCacheOptions = {},
  ) {
    super();
    this.quitTimeoutMs = options.quitTimeoutMs ?? 2_000;
  }

  async get(key: string): Promise<string | null> {
    return this.client.get(key);
  }

  async set(key: string, value: string, ttlSeconds?: number): Promise<void> {
    if (ttlSeconds) await this.client.set(key, value, 'EX', ttlSeconds);
    else await this.client.set(key, value);
  }

  async del(key: string): Promise<void> {
    await this.client.del(key);
  }

  teardown(): Promise<void> {
    this.closed ??= (async () => {
      if (this.client.status === 'end') return;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.quitTimeoutMs)));
      try {
        // QUIT on a client that never connected would wait for a connection: drop it instead.
        if (this.client.status === 'ready') await Promise.race([this.client.quit().catch(() => undefined), timedOut]);
      } finally {
        clearTimeout(timer);
        this.client.disconnect(false);
      }
    })();
    return this.closed;
  }
}
