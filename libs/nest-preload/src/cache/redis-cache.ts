import type { Redis } from 'ioredis';
import { ExternalCache } from './external-cache';

/** Options of {@link RedisCache}. */
export interface RedisCacheOptions {
  /**
   * How long `QUIT` may take before the socket is simply dropped.
   * @default 2000
   */
  quitTimeoutMs?: number;
  /**
   * Receives the client's connection errors (ioredis prints "Unhandled error event" without a
   * listener). While Redis is unreachable ioredis keeps reconnecting; this is called for each failure.
   * @default ignore them (use `/health` to see that Redis is down)
   */
  onError?: (error: Error) => void;
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
    const onError = options.onError ?? (() => undefined);
    client.on('error', (error: Error) => onError(error));
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
      // ioredis reaches `end` only when the socket has closed, after quit() resolved.
      const ended = new Promise<void>((resolve) => this.client.once('end', () => resolve()));
      // QUIT on a client that is not ready would wait for a connection: drop it instead.
      if (this.client.status === 'ready')
        await within(
          this.client.quit().then(
            () => undefined,
            () => undefined,
          ),
          this.quitTimeoutMs,
        );
      this.client.disconnect(false);
      await within(ended, this.quitTimeoutMs);
    })();
    return this.closed;
  }
}

/** Waits for `promise`, or `ms`, whichever comes first. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
