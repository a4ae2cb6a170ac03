// One process, one encoder, the sync worker and the HTTP API: HTTP batch requests saturating the encoder must not
// starve the sync worker (it keeps its EMBEDSYNC_SYNC_SHARE of the encoder and drains a backlog within a bound),
// and the HTTP API keeps the rest. Real Postgres, the real tiny model, the real Fastify app.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { schedulerOf } from '../src/encoder/run-scheduler.ts';
import type { EncodeSource } from '../src/encoder/types.ts';
import { makeApp, post } from './helpers/http-app.ts';
import { setupSyncDb, waitFor, type SyncTestDb } from './helpers/sync.ts';

const ROWS = 640;
const HTTP_CLIENTS = 6;

const queued = async (t: SyncTestDb) => (await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.queue')).rows[0]!.n;

async function insertBacklog(t: SyncTestDb, tag: string): Promise<void> {
  await t.pool.query(`INSERT INTO leads (title, description)
    SELECT '${tag} lead ' || g || ' квартира у метро', 'Description ' || g || ', balcony, ' || (g % 90) || ' m²'
    FROM generate_series(1, $1::int) g`, [ROWS]);
}

/** Seconds until the queue is empty, failing past `boundS`. */
async function drainSeconds(t: SyncTestDb, boundS: number): Promise<number> {
  const started = performance.now();
  await waitFor('the backlog to drain', async () => (await queued(t)) === 0, boundS * 1000, 25);
  return (performance.now() - started) / 1000;
}

async function runShareCase(syncShare: string): Promise<{ share: number; aloneS: number; withHttpS: number; statuses: Map<number, number> }> {
  const t = await setupSyncDb({ EMBEDSYNC_SYNC_SHARE: syncShare });
  const { app } = await makeApp({
    encoder: t.encoder,
    env: { CACHE_ENABLED: 'false', RATE_LIMIT: '1000000/minute', RATE_LIMIT_BATCH: '1000000/minute', MAX_CONCURRENT_REQUESTS: String(HTTP_CLIENTS), EMBEDSYNC_SYNC_SHARE: syncShare },
  });
  try {
    const scheduler = schedulerOf(t.encoder);
    assert.ok(scheduler, 'the local encoder has a scheduler');
    scheduler.syncShare = Number(syncShare); // the test encoder was made before the setting: apply it as run would
    await t.startDaemon();

    await insertBacklog(t, 'alone');
    const aloneS = await drainSeconds(t, 60);

    // HTTP clients sending full batches of new texts, back to back: each request is one large model run.
    let stop = false;
    const statuses = new Map<number, number>();
    let n = 0;
    const clients = Array.from({ length: HTTP_CLIENTS }, async () => {
      while (!stop) {
        const items = Array.from({ length: 128 }, (_, i) => ({ id: String(i), text: `search request ${n++} for a flat near the metro with a balcony, two rooms, renovated, quiet street ${Math.random()}` }));
        const r = await post({ app } as Parameters<typeof post>[0], '/embed/batch', { items, role: 'document' });
        statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
        if (r.statusCode === 503) assert.ok(Number(r.headers['retry-after']) >= 1, 'a refused request says when to retry');
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    // Encoder time by source from the first to the last sync run of the backlog (not the moments before the
    // worker wakes up or after it is done, when HTTP has the encoder to itself by right).
    const charges: { at: number; source: EncodeSource; seconds: number }[] = [];
    const unwatch = scheduler.onCharge((source, seconds) => charges.push({ at: performance.now(), source, seconds }));
    await insertBacklog(t, 'busy');
    // The bound: at half of the encoder (less the HTTP API's own request handling) the backlog takes a few
    // times as long as alone; starved behind the HTTP runs it takes far longer.
    const withHttpS = await drainSeconds(t, Math.max(15, aloneS * 6));
    unwatch();
    stop = true;
    await Promise.all(clients);
    const syncAt = charges.filter((c) => c.source === 'sync').map((c) => c.at);
    const inWindow = charges.filter((c) => c.at > syncAt[0]! && c.at <= syncAt.at(-1)!);
    const sum = (source: EncodeSource) => inWindow.filter((c) => c.source === source).reduce((a, c) => a + c.seconds, 0);
    const share = sum('sync') / (sum('sync') + sum('http'));
    if (process.env.EMBEDSYNC_TEST_LOG) console.log({ syncShare, share, aloneS, withHttpS, sync: sum('sync'), http: sum('http'), statuses: [...statuses] });
    return { share, aloneS, withHttpS, statuses };
  } finally {
    await app.close();
    await t.close();
  }
}

test('HTTP batches saturating the encoder: the sync worker keeps its share and drains a backlog within a bound', async () => {
  const r = await runShareCase('0.5');
  // Measured 56–68% on clean clones since the model runs on worker threads (the spread is not yet explained; the
  // scheduler's accounting is exact on a test clock, see run-scheduler.test.ts): neither side is starved.
  assert.ok(r.share >= 0.35 && r.share <= 0.72, `sync had ${(r.share * 100).toFixed(0)}% of the encoder while HTTP saturated it`);
  assert.ok(r.withHttpS <= r.aloneS * 6 || r.withHttpS < 15, `drained in ${r.withHttpS.toFixed(1)} s with HTTP, ${r.aloneS.toFixed(1)} s alone`);
  assert.ok((r.statuses.get(200) ?? 0) >= HTTP_CLIENTS, `HTTP answered meanwhile: ${JSON.stringify([...r.statuses])}`);
  assert.deepEqual([...r.statuses.keys()].filter((s) => s !== 200 && s !== 503), [], 'nothing but answers or 503 with Retry-After');
});

test('a larger EMBEDSYNC_SYNC_SHARE gives the sync worker more of a saturated encoder', async () => {
  const r = await runShareCase('0.9');
  assert.ok(r.share >= 0.6, `sync had ${(r.share * 100).toFixed(0)}% of the encoder at share 0.9`);
});
