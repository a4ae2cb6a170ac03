export { cacheKey } from './key.ts';
export { LruTtlCache } from './lru-cache.ts';
export { RedisVectorCache, type CacheLogger } from './redis-cache.ts';
export { EmbeddingCache, type CacheStats, type CounterLike, type EmbeddingCacheOptions } from './embedding-cache.ts';
export { bytesToVector, vectorToBytes } from './vector-bytes.ts';
