// Daemon A syncing a table with its encoder on a remote (daemon B: the real embedsync API on the tiny model)
// over loopback: vectors equal B's local encode, checksums as configured, a remote outage leaves rows
// queued (nothing dead-lettered, no attempts counted), 429 Retry-After is obeyed, two daemons share a remote.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { loadConfig, type Env } from '../src/config/index.ts';
import { createEncoder } from '../src/encoder/index.ts';
import { createRemoteEncoder } from '../src/encoder/remote/index.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { createLogger } from '../src/log/index.ts';
import { runService } from '../src/cli/run.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { createClient } from '../src/db/pool.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { documentOf, parseVector, setupSyncDb, TEST_ENV, waitFor } from './helpers/sync.ts';
import { maxDiff, startDaemonB, startProxy, type DaemonB } from './helpers/remote-servers.ts';
import { FULL_SUITE_ONLY } from './helpers/tier.ts';

let b: DaemonB;
before(async () => { b = await startDaemonB({ MAX_BATCH_SIZE: '64' }); });
after(async () => { await b.close(); });

const remoteEncoder = (env: Env): Promise<Encoder> =>
  createEncoder(loadConfig({ EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_ENDPOINT: b.address, ...env }).model);

async function insertRows(pool: pg.Pool, n: number, tag = ''): Promise<void> {
  await pool.query(
    `INSERT INTO leads (title, description)
     SELECT 'Лид ' || g || $2, CASE WHEN g % 3 = 0 THEN 'описание ' || g ELSE 'description of lead ' || g END
     FROM generate_series(1, $1::int) g`, [n, tag]);
}

const count = async (pool: pg.Pool, sql: string, params: unknown[] = []) => (await pool.query<{ n: number }>(sql, params)).rows[0]!.n;
const embedded = (pool: pg.Pool, checksum: string) =>
  count(pool, 'SELECT count(*)::int AS n FROM leads WHERE embedding IS NOT NULL AND model_checksum = $1', [checksum]);
const deadLettered = (pool: pg.Pool) => count(pool, 'SELECT count(*)::int AS n FROM embedsync.deadletter');

/** Every stored vector equals B's local encode of the row's document (1e-6). */
async function assertStoredMatchB(pool: pg.Pool, limit = 1000): Promise<void> {
  const { rows } = await pool.query<{ title: string; description: string; e: string }>(
    'SELECT title, description, embedding::text AS e FROM leads ORDER BY id LIMIT $1', [limit]);
  const want = await b.encoder.encode(rows.map((r) => documentOf(r.title, r.description)), 'document');
  assert.ok(maxDiff(rows.map((r) => parseVector(r.e)), want.vectors) <= 1e-6, 'stored vectors equal B\'s local encode');
}

test('daemon A (`run` with EMBEDDING_BACKEND=embedsync) writes B\'s vectors with B\'s checksum', async () => {
  const t = await setupSyncDb();
  const stop = new AbortController();
  try {
    await insertRows(t.pool, 120);
    const config = loadConfig({
      ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: 'served-by-b', EMBEDDING_BACKEND: 'embedsync', EMBEDDING_ENDPOINT: b.address,
    });
    const running = runService({
      config, sync: true, http: false, signal: stop.signal, logger: createLogger('silent'),
      loadEncoder: () => createEncoder(config.model),
    });
    await waitFor('all rows embedded', async () => (await embedded(t.pool, b.encoder.info.checksum)) === 120, 15_000, 50);
    await assertStoredMatchB(t.pool);
    assert.equal(b.encoder.info.checksum, t.encoder.info.checksum, 'the same model run locally has the same checksum');
    stop.abort();
    await running;
  } finally {
    stop.abort();
    await t.close();
  }
});

test('the same through B\'s /v1/embeddings (openai backend) and B\'s TEI routes (tei backend)', async () => {
  for (const env of [
    { EMBEDDING_BACKEND: 'openai', EMBEDDING_REMOTE_MODEL: 'tiny', EMBEDDING_CHECKSUM: b.encoder.info.checksum },
    { EMBEDDING_BACKEND: 'tei', EMBEDDING_CHECKSUM: b.encoder.info.checksum },
    { EMBEDDING_BACKEND: 'tei', EMBEDDING_PROMPT_NAMES: 'query:query,document:document' },
  ]) {
    const t = await setupSyncDb();
    const a = await remoteEncoder(env);
    try {
      if (a.info.checksum !== t.encoder.info.checksum) {
        // A different identity is a model change as far as the table knows: migrate records it first.
        const c = createClient({ databaseUrl: t.db.url });
        await c.connect();
        await migrateSchema(c, t.config.source, { name: a.info.name, checksum: a.info.checksum, dimensions: a.info.dimensions })
          .finally(() => c.end());
      }
      await insertRows(t.pool, 60);
      await t.startDaemon({ encoder: a });
      await waitFor(`rows embedded via ${env.EMBEDDING_BACKEND}`, async () => (await embedded(t.pool, a.info.checksum)) === 60, 15_000, 50);
      await assertStoredMatchB(t.pool);
      if (env.EMBEDDING_CHECKSUM) assert.equal(a.info.checksum, b.encoder.info.checksum);
      else assert.notEqual(a.info.checksum, b.encoder.info.checksum, 'derived from TEI /info and the prompt names');
    } finally {
      await t.close();
      await a.close();
    }
  }
});

test('B stopped mid-backfill: A pauses, nothing dead-lettered, no attempts counted; B back: A finishes', FULL_SUITE_ONLY, async () => {
  const t = await setupSyncDb({ EMBEDSYNC_BATCH_SIZE: '32' });
  const a = await remoteEncoder({ EMBEDDING_BACKEND: 'embedsync', EMBEDDING_CONCURRENCY: '1' });
  const total = 3000;
  try {
    await insertRows(t.pool, total);
    await t.startDaemon({ encoder: a });
    await waitFor('backfill under way', async () => (await embedded(t.pool, a.info.checksum)) >= 200, 20_000, 10);
    await b.stop();
    await waitFor('breaker open', async () => a.availability!.open, 10_000, 10);
    const during = await embedded(t.pool, a.info.checksum);
    assert.ok(during < total, 'stopped before the end');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await embedded(t.pool, a.info.checksum), during, 'nothing embedded while B is down');
    assert.equal(await deadLettered(t.pool), 0);
    assert.equal(await count(t.pool, 'SELECT count(*)::int AS n FROM embedsync.queue WHERE attempts > 0'), 0, 'no attempts counted');
    assert.equal(await count(t.pool, 'SELECT count(*)::int AS n FROM embedsync.queue'), total - during, 'the rest stays queued');
    await b.start();
    await waitFor('backfill finished', async () => (await embedded(t.pool, a.info.checksum)) === total, 30_000, 50);
    assert.equal(await deadLettered(t.pool), 0);
    await assertStoredMatchB(t.pool, 300);
  } finally {
    await b.start().catch(() => undefined);
    await t.close();
    await a.close();
  }
});

test('while the breaker is open (tripped by an API request) the worker claims nothing; rows wait, then are embedded', async () => {
  const t = await setupSyncDb();
  const a = await createRemoteEncoder(loadConfig({ EMBEDDING_BACKEND: 'embedsync', EMBEDDING_ENDPOINT: b.address }).model, {
    retry: { maxAttempts: 2, baseDelayMs: 20, maxDelayMs: 50, maxRetryAfterMs: 5000 },
    breaker: { failureThreshold: 1, baseOpenMs: 2500, maxOpenMs: 2500 },
  });
  // Count the claim statements the daemon sends (the real pool, observed).
  let claims = 0;
  const query = t.pool.query.bind(t.pool) as (...args: unknown[]) => unknown;
  (t.pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('SKIP LOCKED')) claims += 1;
    return query(...args);
  };
  try {
    await t.startDaemon({ encoder: a });
    await b.stop();
    await assert.rejects(a.encode(['a query from the HTTP API'], 'query'), /unavailable/);
    assert.equal(a.availability!.open, true);
    const before = claims;
    await insertRows(t.pool, 40); // NOTIFY wakes the worker
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(claims, before, 'no claim while the breaker is open');
    assert.equal(await count(t.pool, 'SELECT count(*)::int AS n FROM embedsync.queue WHERE lease_owner IS NULL AND attempts = 0'), 40);
    await b.start();
    await waitFor('rows embedded after the pause', async () => (await embedded(t.pool, a.info.checksum)) === 40, 15_000, 50);
    assert.equal(await deadLettered(t.pool), 0);
  } finally {
    await b.start().catch(() => undefined);
    await t.close();
    await a.close();
  }
});

test('B answering 429 with Retry-After: A (both worker loops) waits as told and loses nothing', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_BATCH_SIZE: '16' });
  const proxy = await startProxy(() => b.address);
  const a = await createEncoder(loadConfig({
    EMBEDDING_BACKEND: 'embedsync', EMBEDDING_ENDPOINT: proxy.address, EMBEDDING_CONCURRENCY: '1',
  }).model);
  try {
    let n = 0;
    proxy.requests.length = 0;
    proxy.intercept = (r) => (r.path === '/embed/batch' && ++n % 4 === 0
      ? {
        status: 429, headers: { 'retry-after': '1' },
        body: { detail: 'rate limit exceeded: 20/minute per client (RATE_LIMIT_BATCH); retry in 1 second' },
      }
      : undefined);
    await insertRows(t.pool, 100);
    await t.startDaemon({ encoder: a });
    await waitFor('all rows embedded', async () => (await embedded(t.pool, a.info.checksum)) === 100, 20_000, 50);
    const sent = proxy.requests.filter((r) => r.path === '/embed/batch');
    const limited = sent.flatMap((r, i) => (r.status === 429 ? [i] : []));
    assert.ok(limited.length >= 1, 'some requests were refused');
    for (const i of limited) {
      const next = sent[i + 1];
      if (next) {
        assert.ok(next.at - sent[i]!.at >= 1000, `request after a 429 came ${next.at - sent[i]!.at} ms later: ` +
          `${JSON.stringify(sent.map((r) => [r.at - sent[0]!.at, r.status, r.items]))}`);
      }
    }
    assert.equal(await deadLettered(t.pool), 0);
    await assertStoredMatchB(t.pool);
  } finally {
    await t.close();
    await a.close();
    await proxy.close();
  }
});

test('two daemons sharing one remote on 5,000 rows: none missed', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_BATCH_SIZE: '64' });
  const [a1, a2] = await Promise.all([
    remoteEncoder({ EMBEDDING_BACKEND: 'embedsync' }), remoteEncoder({ EMBEDDING_BACKEND: 'embedsync' }),
  ]);
  try {
    await insertRows(t.pool, 5000);
    await Promise.all([t.startDaemon({ encoder: a1, owner: 'a1' }), t.startDaemon({ encoder: a2, owner: 'a2' })]);
    await waitFor('5,000 rows embedded', async () => (await embedded(t.pool, b.encoder.info.checksum)) === 5000, 90_000, 100);
    assert.equal(await count(t.pool, 'SELECT count(*)::int AS n FROM embedsync.queue'), 0);
    assert.equal(await deadLettered(t.pool), 0);
    await assertStoredMatchB(t.pool, 500);
  } finally {
    await t.close();
    await Promise.all([a1.close(), a2.close()]);
  }
});
