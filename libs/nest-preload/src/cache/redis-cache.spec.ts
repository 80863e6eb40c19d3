import type { Redis } from 'ioredis';
import { RedisCache } from './redis-cache';

/** A fake of the few client members teardown uses; the real client is exercised in test/. */
function fakeClient(status: string, quit: () => Promise<unknown>) {
  const calls: string[] = [];
  let onEnd: () => void = () => undefined;
  const client = {
    status,
    quit: () => {
      calls.push('quit');
      return quit();
    },
    disconnect: () => {
      calls.push('disconnect');
      setImmediate(() => {
        client.status = 'end';
        onEnd();
      });
    },
    once: (event: string, listener: () => void) => {
      if (event === 'end') onEnd = listener;
    },
    on: () => undefined,
  };
  return { client: client as unknown as Redis, calls };
}

describe('RedisCache.teardown', () => {
  it('QUITs a ready client, disconnects, and waits for the socket to end; a second call does nothing more', async () => {
    const { client, calls } = fakeClient('ready', async () => 'OK');
    const cache = new RedisCache(client);
    await cache.teardown();
    expect(client.status).toBe('end');
    await cache.teardown();
    expect(calls).toEqual(['quit', 'disconnect']);
  });

  it('bounds a QUIT that never answers by quitTimeoutMs, then disconnects', async () => {
    const { client, calls } = fakeClient('ready', () => new Promise(() => undefined));
    const started = Date.now();
    await new RedisCache(client, { quitTimeoutMs: 100 }).teardown();
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(calls).toEqual(['quit', 'disconnect']);
  });

  it('does not QUIT a client that is still connecting (it would wait for Redis); it just disconnects', async () => {
    const { client, calls } = fakeClient('reconnecting', async () => 'OK');
    await new RedisCache(client).teardown();
    expect(calls).toEqual(['disconnect']);
  });
});
