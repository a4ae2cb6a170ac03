// Two levels: the in-process LRU answers hot keys without I/O; Redis (when configured) is shared between
// daemons. A Redis hit is copied into the LRU. Keys come from cacheKey(), values are float32 vectors.
import type { CacheConfig } from '../config/index.ts';
import { LruTtlCache } from './lru-cache.ts';
import { RedisVectorCache, type CacheLogger } from './redis-cache.ts';

export interface CounterLike {
  inc(value?: number): void;
}

export interface CacheStats {
  readonly enabled: boolean;
  readonly backend: 'memory' | 'memory+redis';
  readonly size: number;
  readonly max_size: number;
  readonly ttl_seconds: number;
  readonly hits: number;
  readonly misses: number;
  readonly hit_rate: number;
  readonly redis_status?: string;
}

export interface EmbeddingCacheOptions {
  readonly logger: CacheLogger;
  readonly hits?: CounterLike;
  readonly misses?: CounterLike;
}

export class EmbeddingCache {
  readonly #config: CacheConfig;
  readonly #lru: LruTtlCache<Float32Array>;
  readonly #redis: RedisVectorCache | undefined;
  readonly #hitCounter: CounterLike | undefined;
  readonly #missCounter: CounterLike | undefined;
  #hits = 0;
  #misses = 0;

  constructor(config: CacheConfig, options: EmbeddingCacheOptions) {
    this.#config = config;
    this.#lru = new LruTtlCache(config.maxSize, config.ttlSeconds * 1000);
    this.#redis = config.enabled && config.redisUrl
      ? new RedisVectorCache({ url: config.redisUrl, ttlSeconds: config.ttlSeconds, logger: options.logger })
      : undefined;
    this.#hitCounter = options.hits;
    this.#missCounter = options.misses;
  }

  get enabled(): boolean {
    return this.#config.enabled;
  }

  /** One entry per key: the cached vector or undefined. Counts hits and misses. */
  async getMany(keys: readonly string[], dimensions: number): Promise<(Float32Array | undefined)[]> {
    if (!this.#config.enabled) return keys.map(() => undefined);
    const found = keys.map((k) => this.#lru.get(k));
    if (this.#redis) {
      const missing = found.flatMap((v, i) => (v === undefined ? [i] : []));
      if (missing.length > 0) {
        const remote = await this.#redis.getMany(missing.map((i) => keys[i]!), dimensions);
        missing.forEach((i, j) => {
          const v = remote[j];
          if (v !== undefined) {
            found[i] = v;
            this.#lru.set(keys[i]!, v);
          }
        });
      }
    }
    const hits = found.filter((v) => v !== undefined).length;
    this.#count(hits, keys.length - hits);
    return found;
  }

  async setMany(entries: readonly (readonly [string, Float32Array])[]): Promise<void> {
    if (!this.#config.enabled || entries.length === 0) return;
    // Copies: the caller's arrays stay theirs; the cache's stay unchanged.
    const copies = entries.map(([k, v]) => [k, new Float32Array(v)] as const);
    for (const [k, v] of copies) this.#lru.set(k, v);
    await this.#redis?.setMany(copies);
  }

  /** Empties both levels; returns the number of entries removed. */
  async clear(): Promise<number> {
    const local = this.#lru.clear();
    const shared = this.#redis ? await this.#redis.clear() : 0;
    this.#hits = 0;
    this.#misses = 0;
    return local + shared;
  }

  stats(): CacheStats {
    const lookups = this.#hits + this.#misses;
    return {
      enabled: this.#config.enabled,
      backend: this.#redis ? 'memory+redis' : 'memory',
      size: this.#lru.size,
      max_size: this.#config.maxSize,
      ttl_seconds: this.#config.ttlSeconds,
      hits: this.#hits,
      misses: this.#misses,
      hit_rate: lookups === 0 ? 0 : this.#hits / lookups,
      ...(this.#redis ? { redis_status: this.#redis.status } : {}),
    };
  }

  async close(): Promise<void> {
    await this.#redis?.close();
  }

  #count(hits: number, misses: number): void {
    this.#hits += hits;
    this.#misses += misses;
    if (hits > 0) this.#hitCounter?.inc(hits);
    if (misses > 0) this.#missCounter?.inc(misses);
  }
}
