import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LruTtlCache, EmbeddingCache, cacheKey, bytesToVector, vectorToBytes } from '../src/cache/index.ts';
import type { CacheConfig } from '../src/config/index.ts';
import { freePort } from '../scripts/free-port.ts';

const REDIS_URL = process.env.EMBEDSYNC_TEST_REDIS_URL;
const quiet = { warn: () => {}, info: () => {} };

function config(overrides: Partial<CacheConfig> = {}): CacheConfig {
  return { enabled: true, ttlSeconds: 3600, maxSize: 100, redisUrl: undefined, ...overrides };
}

function randomVector(dims: number): Float32Array {
  const v = new Float32Array(dims);
  for (let i = 0; i < dims; i++) v[i] = Math.fround(Math.random() * 2 - 1) / 3;
  return v;
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

test('LRU evicts the least recently used entry, and a read refreshes recency', () => {
  const lru = new LruTtlCache<number>(2, 0);
  lru.set('a', 1);
  lru.set('b', 2);
  assert.equal(lru.get('a'), 1); // a is now newer than b
  lru.set('c', 3);
  assert.equal(lru.get('b'), undefined);
  assert.equal(lru.get('a'), 1);
  assert.equal(lru.get('c'), 3);
  assert.equal(lru.size, 2);
});

test('entries expire after the TTL', () => {
  let now = 1_000;
  const lru = new LruTtlCache<string>(10, 500, () => now);
  lru.set('k', 'v');
  now += 499;
  assert.equal(lru.get('k'), 'v');
  now += 1;
  assert.equal(lru.get('k'), undefined);
  assert.equal(lru.size, 0);
});

test('max size 0 stores nothing', () => {
  const lru = new LruTtlCache<number>(0, 0);
  lru.set('a', 1);
  assert.equal(lru.get('a'), undefined);
});

test('keys differ by model checksum, role and text, and cannot run into each other', () => {
  const keys = new Set([
    cacheKey('abc', 'query', 'hello'),
    cacheKey('abd', 'query', 'hello'),
    cacheKey('abc', 'document', 'hello'),
    cacheKey('abc', 'query', 'hello '),
    cacheKey('abc', 'query', 'hellö'),
  ]);
  assert.equal(keys.size, 5);
  assert.equal(cacheKey('abc', 'query', 'x'), cacheKey('abc', 'query', 'x'));
  assert.match(cacheKey('abc', 'query', 'x'), /^[0-9a-f]{64}$/);
});

test('float32 bytes round-trip bit for bit, including -0, subnormals and extremes', () => {
  const v = new Float32Array([0, -0, 1e-45, -3.4028234663852886e38, 0.1, Math.fround(1 / 3), NaN]);
  const back = bytesToVector(vectorToBytes(v), v.length)!;
  assert.ok(sameBits(v, back));
  // Little-endian on the wire whatever the host: 1.0f is 00 00 80 3f.
  assert.deepEqual([...vectorToBytes(new Float32Array([1]))], [0x00, 0x00, 0x80, 0x3f]);
  assert.equal(bytesToVector(Buffer.alloc(12), 4), undefined, 'a wrong length is no vector');
  // A Buffer at an odd offset (as sockets hand them out) still decodes.
  const odd = Buffer.concat([Buffer.from([9]), vectorToBytes(v)]).subarray(1);
  assert.ok(sameBits(bytesToVector(odd, v.length)!, v));
});

test('memory cache: hit/miss counting, copies, stats and clear', async () => {
  let hitMetric = 0;
  let missMetric = 0;
  const cache = new EmbeddingCache(config({ maxSize: 3, ttlSeconds: 60 }), {
    logger: quiet, hits: { inc: (n = 1) => { hitMetric += n; } }, misses: { inc: (n = 1) => { missMetric += n; } },
  });
  const v = randomVector(8);
  await cache.setMany([['k1', v]]);
  v[0] = 42; // the cache kept its own copy
  const [a, b] = await cache.getMany(['k1', 'k2'], 8);
  assert.notEqual(a![0], 42);
  assert.equal(b, undefined);
  assert.deepEqual([hitMetric, missMetric], [1, 1]);
  const stats = cache.stats();
  assert.deepEqual(
    { ...stats },
    { enabled: true, backend: 'memory', size: 1, max_size: 3, ttl_seconds: 60, hits: 1, misses: 1, hit_rate: 0.5 },
  );
  assert.equal(await cache.clear(), 1);
  assert.equal(cache.stats().size, 0);
  assert.equal((await cache.getMany(['k1'], 8))[0], undefined);
});

test('a disabled cache never answers and never stores', async () => {
  const cache = new EmbeddingCache(config({ enabled: false }), { logger: quiet });
  await cache.setMany([['k', randomVector(4)]]);
  assert.deepEqual(await cache.getMany(['k'], 4), [undefined]);
  assert.equal(cache.stats().enabled, false);
  assert.equal(cache.stats().size, 0);
});

test('Redis: two daemons share entries bit-identically; clear removes them', {
  skip: !REDIS_URL && 'EMBEDSYNC_TEST_REDIS_URL not set',
}, async () => {
  const a = new EmbeddingCache(config({ redisUrl: REDIS_URL }), { logger: quiet });
  const b = new EmbeddingCache(config({ redisUrl: REDIS_URL }), { logger: quiet });
  try {
    await waitFor(() => a.stats().redis_status === 'ready' && b.stats().redis_status === 'ready');
    const v = randomVector(32);
    const key = cacheKey(`test-${Date.now()}`, 'document', 'shared text');
    await a.setMany([[key, v]]);
    const [got, none] = await b.getMany([key, cacheKey('other', 'document', 'x')], 32);
    assert.ok(got && sameBits(got, v), 'b reads a\'s vector bit for bit');
    assert.equal(none, undefined);
    assert.equal(b.stats().size, 1, 'a Redis hit is kept in memory too');
    // A wrong dimension (another model's entry under a colliding key) is a miss, not a wrong answer.
    const c = new EmbeddingCache(config({ redisUrl: REDIS_URL }), { logger: quiet });
    await waitFor(() => c.stats().redis_status === 'ready');
    assert.deepEqual(await c.getMany([key], 16), [undefined]);
    await c.close();
    assert.ok(await a.clear() >= 2, 'memory entry plus the shared one');
    const fresh = new EmbeddingCache(config({ redisUrl: REDIS_URL }), { logger: quiet });
    await waitFor(() => fresh.stats().redis_status === 'ready');
    assert.deepEqual(await fresh.getMany([key], 32), [undefined]);
    await fresh.close();
  } finally {
    await a.close();
    await b.close();
  }
});

test('Redis: expiry follows CACHE_TTL_SECONDS', { skip: !REDIS_URL && 'EMBEDSYNC_TEST_REDIS_URL not set' }, async () => {
  const writer = new EmbeddingCache(config({ redisUrl: REDIS_URL, ttlSeconds: 1 }), { logger: quiet });
  const reader = new EmbeddingCache(config({ redisUrl: REDIS_URL, ttlSeconds: 1 }), { logger: quiet });
  try {
    await waitFor(() => writer.stats().redis_status === 'ready' && reader.stats().redis_status === 'ready');
    const key = cacheKey(`ttl-${Date.now()}`, 'query', 'short lived');
    await writer.setMany([[key, randomVector(4)]]);
    await new Promise((r) => setTimeout(r, 1200));
    assert.deepEqual(await reader.getMany([key], 4), [undefined]);
  } finally {
    await writer.close();
    await reader.close();
  }
});

test('Redis down: reads are misses and writes are dropped, logged once, no request fails', async () => {
  const port = await freePort();
  const warnings: object[] = [];
  const cache = new EmbeddingCache(config({ redisUrl: `redis://127.0.0.1:${port}` }), {
    logger: { warn: (o) => warnings.push(o), info: () => {} },
  });
  try {
    const v = randomVector(4);
    await cache.setMany([['k', v]]);
    // Served from memory even though Redis is down.
    assert.ok(sameBits((await cache.getMany(['k'], 4))[0]!, v));
    assert.deepEqual(await cache.getMany(['other'], 4), [undefined]);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(warnings.length >= 1);
    assert.ok(warnings.length <= 2, `logged once per outage, got ${warnings.length}`);
    assert.ok(!JSON.stringify(warnings).includes('redis://'), 'the URL (which may hold a password) is not logged');
  } finally {
    await cache.close();
  }
});

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

