import { ExternalCache } from '@lf/nest-preload';
import { Logger } from '@nestjs/common';
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

/**
 * Redis-backed: an ExternalCache too, so the preload module tears it down before the preloader
 * exits. The cache only saves work: while Redis is unreachable, reads miss and writes are skipped
 * (one warning per outage), commands fail at once instead of queueing, and ioredis reconnects by itself.
 */
class RedisDemoCache extends RedisCache implements DemoCache {
  private readonly logger = new Logger('Cache');
  private degraded = false;

  constructor(client: Redis) {
    super(client, { onError: (error) => this.degrade(error) });
    client.on('ready', () => {
      if (this.degraded) this.logger.log('Redis is reachable again: the cache is back');
      this.degraded = false;
    });
  }

  override async get(key: string): Promise<string | null> {
    return super.get(key).catch((error: Error) => (this.degrade(error), null));
  }

  override async set(key: string, value: string): Promise<void> {
    await super.set(key, value).catch((error: Error) => this.degrade(error));
  }

  async ping(): Promise<boolean> {
    return (await this.client.ping().catch(() => null)) === 'PONG';
  }

  private degrade(error: Error): void {
    if (this.degraded) return;
    this.degraded = true;
    this.logger.warn(`Redis is unreachable (${error.message}): the cache is skipped until it is back`);
  }
}

export function createDemoCache(config: DemoConfig, role: string): DemoCache | ExternalCache {
  if (!config.redisUrl) return new MemoryCache();
  const client = new Redis(config.redisUrl, {
    // The name lets operators (and tests) find this process's connection in CLIENT LIST.
    connectionName: `demo:${role}:${process.pid}`,
    // Fail commands at once while disconnected instead of queueing them behind reconnects.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  return new RedisDemoCache(client);
}
