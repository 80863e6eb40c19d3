import { RedisCache } from '@lf/nest-preload/ioredis';
import { Redis } from 'ioredis';
import { hasRedis, REDIS_URL, redisClientsNamed } from './support/services';

// Needs a real Redis; see the global setup for how a missing one is reported (skip, or CI failure).
const describeWithRedis = hasRedis() ? describe : describe.skip;

describeWithRedis('RedisCache against a real Redis', () => {
  it('teardown QUITs the connection: the server no longer lists it, and no reconnect follows', async () => {
    const name = `np-e2e-cache-${process.pid}-${Date.now()}`;
    const client = new Redis(REDIS_URL, { connectionName: name });
    const cache = new RedisCache(client);
    await cache.set('np-e2e:key', 'v', 30);
    expect(await cache.get('np-e2e:key')).toBe('v');
    expect(await redisClientsNamed(name)).toEqual([name]);
    await cache.teardown();
    expect(client.status).toBe('end');
    await new Promise((r) => setTimeout(r, 300));
    expect(await redisClientsNamed(name)).toEqual([]);
    expect(client.status).toBe('end');
  });

  it('teardown of a client whose server is unreachable ends at once instead of reconnecting forever', async () => {
    const client = new Redis('redis://127.0.0.1:1', { lazyConnect: false, retryStrategy: () => 50 });
    client.on('error', () => undefined);
    const started = Date.now();
    // Ending at once, not after the quit timeout: far apart, so a loaded machine cannot blur them.
    await new RedisCache(client, { quitTimeoutMs: 10_000 }).teardown();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(client.status).toBe('end');
  });
});
