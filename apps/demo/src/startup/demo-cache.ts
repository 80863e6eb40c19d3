import { ExternalCache } from '@lf/nest-preload';
import { RedisCache } from '@lf/nest-preload/ioredis';
import { Redis } from 'ioredis';
import type { DemoConfig } from '../config';

/** The demo's cache: Redis when REDIS_URL is set, a Map otherwise. */
export abstract class DemoCache {
  abstract get(key: string): Promise<string | null>;
  abstract set(key: string, value: string): Promise<void>;
  /** Answers whether the backend is reachable (for /health). */
  abstract ping(): Promise<boolean>;
}

class MemoryCache extends DemoCache {
  private readonly map = new Map<string, string>();
  async get(key: string) {
    return this.map.get(key) ?? null;
  }
  async set(key: string, value: string) {
    this.map.set(key, value);
  }
  async ping() {
    return true;
  }
}

/** Redis-backed: an ExternalCache too, so the preload module tears it down before the preloader exits. */
class RedisDemoCache extends RedisCache implements DemoCache {
  async ping(): Promise<boolean> {
    return (await this.client.ping().catch(() => null)) === 'PONG';
  }
}

export function createDemoCache(config: DemoConfig, role: string): DemoCache | ExternalCache {
  if (!config.redisUrl) return new MemoryCache();
  const client = new Redis(config.redisUrl, {
    // The name lets operators (and tests) find this process's connection in CLIENT LIST.
    connectionName: `demo:${role}:${process.pid}`,
    maxRetriesPerRequest: 2,
  });
  return new RedisDemoCache(client);
}
