import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../src/config/index.ts';

test('defaults match the old service', () => {
  const c = loadConfig({}, { cores: 2 });
  assert.equal(c.model.model, 'ai-forever/ru-en-RoSBERTa');
  assert.equal(c.http.maxBatchSize, 128);
  assert.equal(c.http.maxTextLength, 10_000);
  assert.equal(c.http.maxConcurrentRequests, 6);
  assert.equal(c.http.encodeTimeoutMs, 30_000);
  assert.deepEqual([c.http.rateLimit.max, c.http.rateLimit.windowMs], [100, 60_000]);
  assert.deepEqual([c.http.rateLimitBatch.max, c.http.rateLimitBatch.windowMs], [20, 60_000]);
  assert.equal(c.cache.enabled, true);
  assert.equal(c.cache.ttlSeconds, 3600);
  assert.equal(c.cache.maxSize, 10_000);
  assert.deepEqual(c.http.allowedOrigins, ['*']);
  assert.equal(c.http.apiKey, undefined);
  // Two cores: two single-threaded sessions (encoderLayout).
  assert.equal(c.model.sessions, 2);
  assert.equal(c.model.threads, 1);
  assert.equal(c.source.table.name, 'leads');
  assert.deepEqual(c.source.textColumns, ['title', 'description']);
});

test('every problem is listed at once', () => {
  let err: unknown;
  try {
    loadConfig({ MAX_BATCH_SIZE: 'lots', RATE_LIMIT: '100 a minute', CACHE_ENABLED: 'maybe', EMBEDSYNC_TABLE: 'leads; drop table x' });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  const keys = err.problems.map((p) => p.split(' ')[0]);
  assert.deepEqual(keys.sort(), ['CACHE_ENABLED', 'EMBEDSYNC_TABLE', 'MAX_BATCH_SIZE', 'RATE_LIMIT']);
});

test('injection and lookalike identifiers are refused with the reason', () => {
  for (const [key, value, reason] of [
    ['EMBEDSYNC_TABLE', 'leads; drop table x', /identifier/],
    ['EMBEDSYNC_ID_COLUMN', '"id"', /identifier/],
    ['EMBEDSYNC_EMBEDDING_COLUMN', 'еmbedding', /non-ASCII/], // Cyrillic е
    ['EMBEDSYNC_TEXT_COLUMNS', 'title,descr iption', /identifier/],
  ] as const) {
    assert.throws(() => loadConfig({ [key]: value }),
      (e: unknown) => e instanceof ConfigError && reason.test(e.message) && e.message.includes(key));
  }
});

test('schema-qualified table and rate formats', () => {
  const c = loadConfig({ EMBEDSYNC_TABLE: 'crm.leads', RATE_LIMIT: '5/second' });
  assert.deepEqual(c.source.table, { schema: 'crm', name: 'leads' });
  assert.deepEqual([c.http.rateLimit.max, c.http.rateLimit.windowMs], [5, 1000]);
});

test('EMBEDSYNC_SYNC_SHARE: half by default, a share strictly between the two sides, a bad value listed with the others', () => {
  assert.equal(loadConfig({}).model.syncShare, 0.5);
  assert.equal(loadConfig({ EMBEDSYNC_SYNC_SHARE: '0.8' }).model.syncShare, 0.8);
  for (const bad of ['1', '0', '0.99', 'half']) {
    assert.throws(() => loadConfig({ EMBEDSYNC_SYNC_SHARE: bad, MAX_BATCH_SIZE: 'lots' }),
      (e: unknown) => e instanceof ConfigError && e.problems.length === 2 && e.problems.some((p) => p.startsWith('EMBEDSYNC_SYNC_SHARE ')));
  }
});

test('encoder sessions × threads: chosen from the cores, or from whichever of the two is set', () => {
  const layout = (env: Record<string, string>, cores: number) => {
    const m = loadConfig(env, { cores }).model;
    return [m.sessions, m.threads];
  };
  assert.deepEqual(layout({}, 1), [1, 1]);
  assert.deepEqual(layout({}, 16), [4, 4]);
  assert.deepEqual(layout({ EMBEDDING_THREADS: '2' }, 8), [4, 2]);
  assert.deepEqual(layout({ EMBEDDING_SESSIONS: '2' }, 8), [2, 4]);
  assert.deepEqual(layout({ EMBEDDING_SESSIONS: '3', EMBEDDING_THREADS: '5' }, 2), [3, 5]);
  assert.throws(() => loadConfig({ EMBEDDING_SESSIONS: '0', EMBEDDING_RUN_SECONDS: 'fast' }, { cores: 2 }),
    /EMBEDDING_SESSIONS[\s\S]*EMBEDDING_RUN_SECONDS/);
});

test('EMBEDSYNC_TABLE: one table, a comma-separated list or * (every migrated table); bad names listed', () => {
  assert.deepEqual(loadConfig({}).tables, { kind: 'one' });
  assert.deepEqual(loadConfig({ EMBEDSYNC_TABLE: 'app.notes' }).tables, { kind: 'one' });
  const list = loadConfig({ EMBEDSYNC_TABLE: 'leads, app.notes,leads' });
  assert.deepEqual(list.tables, { kind: 'list', tables: [{ schema: 'public', name: 'leads' }, { schema: 'app', name: 'notes' }] });
  assert.deepEqual(list.source.table, { schema: 'public', name: 'leads' }, 'the first of the list');
  assert.deepEqual(loadConfig({ EMBEDSYNC_TABLE: '*' }).tables, { kind: 'all' });
  assert.throws(() => loadConfig({ EMBEDSYNC_TABLE: 'leads,bad-name;,' }), (e: Error) => /EMBEDSYNC_TABLE \("bad-name;"\)/.test(e.message));
  assert.throws(() => loadConfig({ EMBEDSYNC_TABLE: ' , ' }), /EMBEDSYNC_TABLE is empty/);
});
