/** `@lf/nest-preload/ioredis`: the ioredis-backed external cache (needs `ioredis`). */
export { RedisCache, type RedisCacheOptions } from './cache/redis-cache';
