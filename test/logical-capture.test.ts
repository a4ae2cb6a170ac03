// Logical capture (EMBEDSYNC_CAPTURE=logical): inserts and updates are read from the WAL through a replication
// slot instead of triggers. Every way a row changes is queued, an update outside the document and the daemon's own
// writes are not, lanes follow the transaction's size, the daemon embeds through it, and remove or a migrate back
// to triggers takes the slot away (a slot nobody reads would keep WAL on the server forever).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { createClient, createPool } from '../src/db/pool.ts';
import { captureNames, captureState, removeCapture } from '../src/db/logical-capture.ts';
import { inspectSource } from '../src/db/source-info.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { removeSource } from '../src/migration/remove-source.ts';
import { loadConfig } from '../src/config/index.ts';
import { createMetrics } from '../src/metrics/index.ts';
import { idInAnotherPartition, lookOnce, setupSyncDb, TEST_ENV, waitFor, type SyncTestDb } from './helpers/sync.ts';
import { createTestDatabase } from './helpers/db.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';

const lanes = async (pool: pg.Pool) => {
  const { rows } = await pool.query<{ lane: number; n: number }>('SELECT lane, count(*)::int AS n FROM embedsync.queue GROUP BY lane');
  return { live: rows.find((r) => r.lane === 0)?.n ?? 0, bulk: rows.find((r) => r.lane === 1)?.n ?? 0 };
};
const triggers = async (pool: pg.Pool) =>
  (await pool.query<{ tgname: string }>(
    `SELECT tgname FROM pg_trigger WHERE tgrelid = 'leads'::regclass AND NOT tgisinternal ORDER BY tgname`)).rows.map((r) => r.tgname);
const slotOf = async (t: SyncTestDb) => {
  const { sql } = await inspectSource(t.pool, t.config.source);
  return captureState(t.pool, await captureNames(t.pool, sql));
};
/**
 * Looks until `want` rows were queued: decoding reads only WAL already flushed, and the test cluster commits
 * asynchronously (synchronous_commit=off), so a change reaches the slot within the WAL writer's delay.
 */
const lookFor = async (t: SyncTestDb, want: number) => {
  let enqueued = 0;
  let lane: string | undefined;
  await waitFor(`${want} rows queued from the slot`, async () => {
    const r = await t.look();
    enqueued += r.enqueued;
    lane ??= r.lane;
    return enqueued >= want;
  }, 5000, 50);
  return { enqueued, lane };
};
/** A WAL position flushed after the changes so far: nothing more to come from them. */
const flushed = (t: SyncTestDb) => t.pool.query('SELECT pg_switch_wal()');

/** The test database can only be dropped once its slot is gone. */
const closeAll = async (t: SyncTestDb) => {
  await removeCapture(t.pool, (await inspectSource(t.pool, t.config.source)).sql).catch(() => undefined);
  await t.close();
};

test('logical capture: every insert and text update queued from the WAL, other updates and the daemon\'s writes not, ' +
  'lanes by transaction', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_CAPTURE: 'logical', EMBEDSYNC_BULK_ROWS: '10' });
  try {
    assert.deepEqual(await triggers(t.pool), ['leads_del', 'leads_trunc'], 'no INSERT or UPDATE trigger');
    assert.equal((await slotOf(t)).slot, true);

    await t.pool.query(`INSERT INTO leads (title) VALUES ('one lead')`);
    assert.deepEqual(await lanes(t.pool), { live: 0, bulk: 0 }, 'the INSERT wrote no queue row');
    assert.deepEqual(await lookFor(t, 1), { enqueued: 1, lane: 'live' });
    await t.pool.query(`INSERT INTO leads (title) SELECT 'imported ' || g FROM generate_series(1, 30) g`);
    assert.deepEqual(await lookFor(t, 30), { enqueued: 30, lane: 'bulk' }, 'a 30-row statement is bulk');

    // Embedded by a daemon, whose writes come back through the slot and queue nothing.
    const metrics = createMetrics({ defaultMetrics: false });
    const d = await t.startDaemon({ metrics });
    await waitFor('all embedded', async () => (await t.pool.query('SELECT 1 FROM leads WHERE embedding IS NULL')).rowCount === 0, 10_000);
    await waitFor('queue drained', async () => (await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount === 0, 10_000);
    // The WAL the server keeps for the slot, on /metrics (the EmbedsyncCaptureWalKept alert watches it).
    await waitFor('the capture gauge',
      async () => /embedsync_capture_wal_kept_bytes\{source="public\.leads"\} \d+/.test(await metrics.registry.metrics()), 5000);
    await d.stop();
    // An update of another column queues nothing, nor do the daemon's own writes (both are in the slot by now).
    await t.pool.query(`UPDATE leads SET city = 'Казань', price = 5`);
    await flushed(t);
    const quiet = await t.look();
    assert.equal(quiet.enqueued, 0, 'the daemon\'s writes and an update of other columns queue nothing');
    assert.deepEqual(await lanes(t.pool), { live: 0, bulk: 0 });
    // A text update, COPY, MERGE and both ON CONFLICT branches are queued.
    await t.pool.query(`UPDATE leads SET title = 'edited' WHERE title = 'one lead'`);
    await t.pool.query(`COPY leads (title) FROM PROGRAM 'printf "copied\\n"'`);
    await t.pool.query(
      `MERGE INTO leads l USING (VALUES ('merged')) v(title) ON false WHEN NOT MATCHED THEN INSERT (title) VALUES (v.title)`);
    await t.pool.query(
      `INSERT INTO leads (id, title) VALUES (2, 'conflict edits row 2') ON CONFLICT (id) DO UPDATE SET title = excluded.title`);
    assert.deepEqual(await lookFor(t, 4), { enqueued: 4, lane: 'live' });
    const queued = (await t.pool.query<{ title: string }>(
      'SELECT l.title FROM embedsync.queue q JOIN leads l ON l.id = q.id::bigint ORDER BY l.id')).rows.map((r) => r.title);
    assert.deepEqual(queued, ['edited', 'conflict edits row 2', 'copied', 'merged']);
    // The slot moved past what was read: nothing twice.
    await t.pool.query('TRUNCATE embedsync.queue');
    await flushed(t);
    assert.equal((await t.look()).enqueued, 0);
  } finally {
    await closeAll(t);
  }
});

test('logical capture: remove and a migrate back to triggers take the slot away', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_CAPTURE: 'logical' });
  try {
    const c = createClient({ databaseUrl: t.db.url });
    await c.connect();
    try {
      const model = { name: t.encoder.info.name, checksum: t.encoder.info.checksum, dimensions: t.encoder.info.dimensions };
      // Unset keeps what the table has.
      const keep = loadConfig({ ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR });
      assert.equal((await migrateSchema(c, keep.source, model)).capture, 'logical');
      assert.deepEqual(await triggers(t.pool), ['leads_del', 'leads_trunc']);
      const back = loadConfig({ ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_CAPTURE: 'triggers' });
      assert.equal((await migrateSchema(c, back.source, model)).capture, 'triggers');
      assert.deepEqual([(await slotOf(t)).slot, (await slotOf(t)).publication], [false, false]);
      assert.deepEqual(await triggers(t.pool), ['leads_del', 'leads_trunc', 'leads_upd']);
      const again = loadConfig({ ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_CAPTURE: 'logical' });
      assert.equal((await migrateSchema(c, again.source, model)).capture, 'logical');
      assert.equal((await slotOf(t)).slot, true);
      await removeSource(c, again.source);
      assert.equal((await c.query(`SELECT count(*)::int AS n FROM pg_replication_slots WHERE database = current_database()`)).rows[0].n, 0);
    } finally {
      await c.end();
    }
  } finally {
    await closeAll(t);
  }
});

test('logical capture of a partitioned table: rows inserted and edited through the parent or a partition ' +
  'arrive as the parent\'s', async () => {
  const db = await createTestDatabase('capturepart');
  const c = createClient({ databaseUrl: db.url });
  await c.connect();
  const config = loadConfig({ ...TEST_ENV, DATABASE_URL: db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_CAPTURE: 'logical' });
  try {
    await c.query(`CREATE TABLE leads (id bigserial PRIMARY KEY, title text, description text) PARTITION BY HASH (id);
      CREATE TABLE leads_p0 PARTITION OF leads FOR VALUES WITH (MODULUS 2, REMAINDER 0);
      CREATE TABLE leads_p1 PARTITION OF leads FOR VALUES WITH (MODULUS 2, REMAINDER 1);`);
    const model = { name: 'tiny', checksum: 'c'.repeat(16), dimensions: 64 };
    assert.equal((await migrateSchema(c, config.source, model)).capture, 'logical');
    await c.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 6) g`);
    await c.query(`INSERT INTO leads_p1 (id, title) SELECT 1000 + g, 'into a partition' FROM generate_series(1, 40) g ` +
      `WHERE satisfies_hash_partition('leads'::regclass, 2, 1, (1000 + g)::bigint)`);
    const direct = (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM leads_p1 WHERE id > 1000`)).rows[0]!.n;
    assert.ok(direct > 0);
    const pool = createPool({ databaseUrl: db.url, max: 2 });
    try {
      let enqueued = 0;
      await waitFor('every row queued from the slot', async () => {
        enqueued += (await lookOnce(pool, config)).enqueued;
        return enqueued >= 6 + direct;
      }, 5000, 50);
      assert.equal(enqueued, 6 + direct);
      await c.query('TRUNCATE embedsync.queue');
      await c.query(`UPDATE leads_p1 SET title = 'edited in the partition' WHERE id = (SELECT min(id) FROM leads_p1)`);
      let edited = 0;
      await waitFor('the edit queued', async () => (edited += (await lookOnce(pool, config)).enqueued) >= 1, 5000, 50);
      assert.equal(edited, 1);
      // A row moved to the other partition (a new id) is an insert in the WAL: queued where its text changed, not
      // where only its id did. Rows 1 and 2 are made to look embedded first (a vector of their text, the current model).
      await c.query(`UPDATE leads SET model_checksum = $1, embedding_text_hash = md5(title)::uuid, embedded_at = now(),
        embedding = array_fill(0.125, ARRAY[64])::vector WHERE id IN (1, 2)`, [model.checksum]);
      const to1 = await idInAnotherPartition(c, 1, 2);
      const to2 = await idInAnotherPartition(c, 2, 2, [to1]);
      await c.query('TRUNCATE embedsync.queue');
      // One transaction: the look that reads one move reads both.
      await c.query(`BEGIN; UPDATE leads SET id = ${to1}, title = 'moved with a new title' WHERE id = 1;
        UPDATE leads SET id = ${to2} WHERE id = 2; COMMIT`);
      await waitFor('the moved row queued', async () => {
        await lookOnce(pool, config);
        return (await c.query('SELECT 1 FROM embedsync.queue WHERE id = $1', [String(to1)])).rowCount === 1;
      }, 5000, 50);
      const queued = (await c.query<{ id: string }>('SELECT id FROM embedsync.queue ORDER BY id')).rows.map((r) => r.id);
      assert.deepEqual(queued, [String(to1)], 'the row moved with a new title, not the one moved alone');
    } finally {
      await pool.end();
    }
  } finally {
    await removeCapture(c, (await inspectSource(c, config.source)).sql).catch(() => undefined);
    await c.end();
    await db.drop();
  }
});
