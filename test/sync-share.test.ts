// One process, one encoder, the sync worker and the HTTP API: HTTP batch requests saturating the encoder must not
// starve the sync worker (it keeps its EMBEDSYNC_SYNC_SHARE of the encoder and drains a backlog within a bound),
// and the HTTP API keeps the rest. Real Postgres, the real tiny model, the real Fastify app.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EncodeSource } from '../src/encoder/types.ts';
import { makeApp, post } from './helpers/http-app.ts';
import { setupSyncDb, waitFor, type SyncTestDb } from './helpers/sync.ts';

// Enough rows for ~20 sync runs in the measured window: the share is only as precise as one run is small next
// to the window (see measure()).
const ROWS = 1280;
const HTTP_CLIENTS = 6;

const queued = async (t: SyncTestDb) => (await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.queue')).rows[0]!.n;

async function insertBacklog(t: SyncTestDb, tag: string): Promise<void> {
  await t.pool.query(`INSERT INTO leads (title, description)
    SELECT '${tag} lead ' || g || ' квартира у метро', 'Description ' || g || ', balcony, ' || (g % 90) || ' m²'
    FROM generate_series(1, $1::int) g`, [ROWS]);
  await t.look(); // queued now, as the daemon's watch would within its interval: the drain below starts from it
}

interface Charge { readonly at: number; readonly source: EncodeSource; readonly seconds: number }

interface ShareMeasure {
  /** The sync worker's part of the encoder time both used. */
  readonly share: number;
  /**
   * How far the two sources' time over their shares drifted apart, over the scheduler's bound for one worker:
   * the longest run of each over its share. Start-time fair queueing keeps it within ±1 at every turn.
   */
  readonly lag: number;
  /** Encoder time charged over the wall time: about 1 while both keep it saturated. */
  readonly busy: number;
  readonly runs: number;
  readonly syncS: number;
  readonly httpS: number;
}

/**
 * Encoder time by source from the end of the backlog's first sync run to the end of its last (not the moments
 * before the worker wakes up or after it is done, when HTTP has the encoder to itself by right), as the scheduler
 * charged it (the wall time each run held the worker). Both ends are turns of the scheduler, so the bound holds
 * between them; the share is only as precise as one run is small next to the window.
 */
function measure(charges: readonly Charge[], syncShare: number): ShareMeasure {
  const syncAt = charges.filter((c) => c.source === 'sync').map((c) => c.at);
  const [from, to] = [syncAt[0]!, syncAt.at(-1)!];
  const inWindow = charges.filter((c) => c.at > from && c.at <= to);
  const sum = (source: EncodeSource) => inWindow.filter((c) => c.source === source).reduce((a, c) => a + c.seconds, 0);
  // Longest over all the runs seen: the HTTP run in flight when the backlog arrived ends before the window.
  const longest = (source: EncodeSource) => Math.max(0, ...charges.filter((c) => c.source === source).map((c) => c.seconds));
  const [syncS, httpS] = [sum('sync'), sum('http')];
  const shares = { sync: syncShare, http: 1 - syncShare };
  return {
    share: syncS / (syncS + httpS),
    lag: (syncS / shares.sync - httpS / shares.http) / (longest('sync') / shares.sync + longest('http') / shares.http),
    busy: (syncS + httpS) / ((to - from) / 1000),
    runs: inWindow.length, syncS, httpS,
  };
}

/** Seconds until the queue is empty, failing past `boundS`. */
async function drainSeconds(t: SyncTestDb, boundS: number): Promise<number> {
  const started = performance.now();
  await waitFor('the backlog to drain', async () => (await queued(t)) === 0, boundS * 1000, 25);
  return (performance.now() - started) / 1000;
}

async function runShareCase(
  syncShare: string,
): Promise<ShareMeasure & { aloneS: number; withHttpS: number; statuses: Map<number, number> }> {
  const t = await setupSyncDb({ EMBEDSYNC_SYNC_SHARE: syncShare });
  const { app } = await makeApp({
    encoder: t.encoder,
    env: {
      CACHE_ENABLED: 'false', RATE_LIMIT: '1000000/minute', RATE_LIMIT_BATCH: '1000000/minute',
      MAX_CONCURRENT_REQUESTS: String(HTTP_CLIENTS), EMBEDSYNC_SYNC_SHARE: syncShare,
    },
  });
  try {
    const scheduler = t.encoder.scheduler;
    assert.ok(scheduler, 'the local encoder has a scheduler');
    assert.equal(scheduler.capacity, 1, 'the lag bound below is for one worker');
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
        const items = Array.from({ length: 128 }, (_, i) => ({
          id: String(i),
          text: `search request ${n++} for a flat near the metro with a balcony, two rooms, renovated, quiet street ${Math.random()}`,
        }));
        const r = await post({ app } as Parameters<typeof post>[0], '/embed/batch', { items, role: 'document' });
        statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
        if (r.statusCode === 503) assert.ok(Number(r.headers['retry-after']) >= 1, 'a refused request says when to retry');
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    const charges: Charge[] = [];
    const unwatch = scheduler.onCharge((source, seconds) => charges.push({ at: performance.now(), source, seconds }));
    await insertBacklog(t, 'busy');
    // The bound: at half of the encoder (less the HTTP API's own request handling) the backlog takes a few
    // times as long as alone; starved behind the HTTP runs it takes far longer.
    const withHttpS = await drainSeconds(t, Math.max(15, aloneS * 6));
    unwatch();
    stop = true;
    await Promise.all(clients);
    const m = measure(charges, Number(syncShare));
    if (process.env.EMBEDSYNC_TEST_LOG) console.log({ syncShare, ...m, aloneS, withHttpS, statuses: [...statuses] });
    return { ...m, aloneS, withHttpS, statuses };
  } finally {
    await app.close();
    await t.close();
  }
}

test('HTTP batches saturating the encoder: the sync worker keeps its share and drains a backlog within a bound', async () => {
  const r = await runShareCase('0.5');
  const figures = `sync had ${(r.share * 100).toFixed(1)}% of ${(r.syncS + r.httpS).toFixed(2)} s of encoder time over ${r.runs} runs, ` +
    `lag ${r.lag.toFixed(2)}, busy ${r.busy.toFixed(2)}`;
  // True contention: the HTTP clients kept the encoder busy all along (no run of either waited on an idle encoder).
  assert.ok(r.busy >= 0.9, figures);
  // The scheduler's guarantee, whatever the machine's speed: within one longest run of each source.
  assert.ok(Math.abs(r.lag) <= 1, figures);
  // Hence the share to within about the longest runs over the window: measured 49–52% over 55–60 runs (2 cores
  // shared with other test runs); the room is for a loaded machine, where single runs take several times longer.
  assert.ok(r.share >= 0.4 && r.share <= 0.6, figures);
  assert.ok(r.withHttpS <= r.aloneS * 6 || r.withHttpS < 15,
    `drained in ${r.withHttpS.toFixed(1)} s with HTTP, ${r.aloneS.toFixed(1)} s alone`);
  assert.ok((r.statuses.get(200) ?? 0) >= HTTP_CLIENTS, `HTTP answered meanwhile: ${JSON.stringify([...r.statuses])}`);
  assert.deepEqual([...r.statuses.keys()].filter((s) => s !== 200 && s !== 503), [], 'nothing but answers or 503 with Retry-After');
});

test('a larger EMBEDSYNC_SYNC_SHARE gives the sync worker more of a saturated encoder', async () => {
  const r = await runShareCase('0.9');
  assert.ok(r.share >= 0.6, `sync had ${(r.share * 100).toFixed(0)}% of the encoder at share 0.9`);
  assert.ok(Math.abs(r.lag) <= 1, `lag ${r.lag.toFixed(2)} at share 0.9`);
});
