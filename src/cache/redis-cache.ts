// Optional cache shared by several daemons through Redis. Redis trouble never fails a request: a read error is a
// miss, a write error is dropped, and the state change is logged once (without the URL, which may hold a password).
import { Redis } from 'ioredis';
import { bytesToVector, vectorToBytes } from './vector-bytes.ts';

export interface CacheLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

const PREFIX = 'embedsync:v1:emb:';
const SCAN_COUNT = 1000;

export interface RedisCacheOptions {
  readonly url: string;
  readonly ttlSeconds: number;
  readonly logger: CacheLogger;
  /** How long a cache read may take before it counts as a miss. */
  readonly commandTimeoutMs?: number;
}

export class RedisVectorCache {
  readonly #redis: Redis;
  readonly #ttlSeconds: number;
  readonly #logger: CacheLogger;
  #healthy = true;

  constructor(options: RedisCacheOptions) {
    this.#ttlSeconds = options.ttlSeconds;
    this.#logger = options.logger;
    this.#redis = new Redis(options.url, {
      // Fail fast while disconnected instead of queueing: a cache that waits is worse than no cache.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs ?? 250,
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 5000),
    });
    this.#redis.on('error', (err: Error) => this.#trouble(err));
    this.#redis.on('ready', () => {
      if (!this.#healthy) this.#logger.info({ event: 'redis_cache_recovered' }, 'redis_cache_recovered');
      this.#healthy = true;
    });
  }

  get status(): string {
    return this.#redis.status;
  }

  async getMany(keys: readonly string[], dimensions: number): Promise<(Float32Array | undefined)[]> {
    if (keys.length === 0) return [];
    try {
      const values = await this.#redis.mgetBuffer(...keys.map((k) => PREFIX + k));
      return values.map((v) => (v ? bytesToVector(v, dimensions) : undefined));
    } catch (err) {
      this.#trouble(err as Error);
      return keys.map(() => undefined);
    }
  }

  async setMany(entries: readonly (readonly [string, Float32Array])[]): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const [key, vector] of entries) {
      if (this.#ttlSeconds > 0) pipeline.set(PREFIX + key, vectorToBytes(vector), 'EX', this.#ttlSeconds);
      else pipeline.set(PREFIX + key, vectorToBytes(vector));
    }
    try {
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err);
      if (failed) this.#trouble(failed[0] as Error);
    } catch (err) {
      this.#trouble(err as Error);
    }
  }

  /** Deletes every embedsync entry (any model); returns how many. */
  async clear(): Promise<number> {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', SCAN_COUNT);
      cursor = next;
      if (keys.length > 0) deleted += await this.#redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  async close(): Promise<void> {
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }

  #trouble(err: Error): void {
    if (!this.#healthy) return;
    this.#healthy = false;
    this.#logger.warn({ event: 'redis_cache_unavailable', error: err.message }, 'redis_cache_unavailable');
  }
}
