// Inserts without a trigger: a table whose ids come from a sequence has no INSERT trigger; its new rows are in the
// new-rows index from the inserting transaction on, and the daemons' watch enqueues them (src/sync/row-watch.ts).
// Every way a row can arrive is found, live or bulk by the look's size, cheaply under a backlog; other ids keep the
// trigger; migrate drops the trigger of a table set up by an earlier version; the application's writes send no NOTIFY.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { createClient } from '../src/db/pool.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { inspectSource } from '../src/db/source-info.ts';
import { renderSql } from '../src/db/sql-template.ts';
import { createLook } from '../src/sync/row-watch.ts';
import { ensureNewRowsIndex } from '../src/db/new-rows-index.ts';
import { removeSource } from '../src/migration/remove-source.ts';
import { loadConfig } from '../src/config/index.ts';
import { createTestDatabase } from './helpers/db.ts';
import { documentOf, lanes, logged, lookOnce, setupSyncDb, TEST_ENV, waitFor } from './helpers/sync.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';

const triggers = async (pool: pg.Pool, table = 'leads') =>
  (await pool.query<{ tgname: string }>(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname`,
    [table])).rows.map((r) => r.tgname);

test('sequence ids: no INSERT trigger; every way a row arrives is found by the watch, live or bulk by the look\'s size', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_BULK_ROWS: '10' });
  try {
    assert.deepEqual(await triggers(t.pool), ['leads_del', 'leads_trunc', 'leads_upd']);
    await t.pool.query(`INSERT INTO leads (title) VALUES ('one lead')`);
    assert.deepEqual(await lanes(t.pool), { live: 0, bulk: 0 }, 'the INSERT itself wrote no queue row');
    assert.deepEqual(await t.look(), { enqueued: 1, lane: 'live', due: true });
    assert.deepEqual(await lanes(t.pool), { live: 1, bulk: 0 });
    assert.equal((await t.look()).enqueued, 0, 'a queued row is not enqueued again');

    // A statement over EMBEDSYNC_BULK_ROWS rows: bulk, every row of it, paged down below the first look.
    await t.pool.query(`INSERT INTO leads (title) SELECT 'imported ' || g FROM generate_series(1, 12000) g`);
    const bulk = await t.look();
    assert.deepEqual([bulk.enqueued, bulk.lane], [12000, 'bulk']);
    assert.deepEqual(await lanes(t.pool), { live: 1, bulk: 12000 });
    await t.pool.query('TRUNCATE embedsync.queue');
    await t.pool.query('UPDATE leads SET model_checksum = $1', ['x'.repeat(16)]);

    // COPY, MERGE, INSERT ... ON CONFLICT (both branches), a DEFAULT VALUES row, a row inserted then updated.
    await t.pool.query(`COPY leads (title) FROM PROGRAM 'printf "copied one\\ncopied two\\n"'`);
    await t.pool.query(
      `MERGE INTO leads l USING (VALUES ('merged')) v(title) ON false WHEN NOT MATCHED THEN INSERT (title) VALUES (v.title)`);
    await t.pool.query(
      `INSERT INTO leads (id, title) VALUES (1, 'conflict edits row 1') ON CONFLICT (id) DO UPDATE SET title = excluded.title`);
    await t.pool.query(`INSERT INTO leads (title) VALUES ('no conflict') ON CONFLICT DO NOTHING`);
    await t.pool.query('INSERT INTO leads DEFAULT VALUES');
    const { rows: [edited] } = await t.pool.query<{ id: string }>(`INSERT INTO leads (title) VALUES ('first') RETURNING id`);
    await t.pool.query(`UPDATE leads SET title = 'then edited' WHERE id = $1`, [edited!.id]);
    assert.deepEqual([await logged(t.pool), await lanes(t.pool)], [2, { live: 0, bulk: 0 }], 'the UPDATE trigger logged the two updates');
    // The look moves the two updates from the log (the edited new row among them) and finds the five other new rows.
    const look = await t.look();
    assert.deepEqual([look.enqueued, look.lane, await logged(t.pool)], [7, 'live', 0]);
    const queued = (await t.pool.query<{ title: string | null }>(
      'SELECT l.title FROM embedsync.queue q JOIN leads l ON l.id = q.id::bigint ORDER BY l.id')).rows.map((r) => r.title);
    assert.deepEqual(queued, ['conflict edits row 1', 'copied one', 'copied two', 'merged', 'no conflict', null, 'then edited']);
  } finally {
    await t.close();
  }
});

test('a look under a backlog reads the newest entries of the new-rows index, not the backlog', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_BULK_ROWS: '10' });
  try {
    await t.pool.query(`INSERT INTO leads (title) SELECT 'backlog ' || g FROM generate_series(1, 50000) g`);
    assert.equal((await t.look()).enqueued, 50000);
    await t.pool.query('ANALYZE leads');
    // The looks on a connection of their own, in one transaction: its own statistics are what it read.
    const c = createClient({ databaseUrl: t.db.url });
    await c.connect();
    try {
      const info = await inspectSource(c, t.config.source);
      const look = createLook({
        db: c, sql: info.sql, target: async () => ({ kind: 'main', sql: info.sql }), bulkRows: 10, checksum: t.encoder.info.checksum,
        onDue: () => undefined,
      });
      const reads = async () => (await c.query<{ seq: string; idx: string }>(`SELECT seq_scan AS seq,
          (SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) FROM pg_index
          WHERE indrelid = 'leads'::regclass) AS idx FROM pg_stat_xact_user_tables WHERE relname = 'leads'`)).rows[0]!;
      await t.pool.query(`INSERT INTO leads (title) VALUES ('a live lead behind 50,000 queued')`);
      await c.query('BEGIN');
      const first = await look();
      assert.deepEqual([first.enqueued, first.lane], [1, 'live']);
      for (let i = 0; i < 19; i++) await look();
      const after = await reads();
      await c.query('COMMIT');
      assert.equal(Number(after.seq), 0, 'no scan of the table');
      const perLook = Number(after.idx) / 20;
      assert.ok(perLook <= 11, `a look reads at most EMBEDSYNC_BULK_ROWS + 1 index entries of leads (${perLook})`);

      // Without the index (a model migration's swap took it with the old column), a look reads nothing of the table.
      await t.pool.query('DROP INDEX leads_embedsync_new');
      await t.pool.query(`INSERT INTO leads (title) VALUES ('while the index is being built again')`);
      await c.query('BEGIN');
      assert.equal((await look()).enqueued, 0);
      assert.deepEqual(await reads(), { seq: '0', idx: '0' }, 'nothing of the table read');
      await c.query('COMMIT');
      await ensureNewRowsIndex(c, info.sql);
      assert.equal((await look()).enqueued, 1, 'the row is found once the index is back');
    } finally {
      await c.end();
    }
  } finally {
    await t.close();
  }
});

test('the daemon embeds inserts through its watch, and the application\'s writes send no NOTIFY', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_POLL_INTERVAL_MS: '60000' });
  const listener = createClient({ databaseUrl: t.db.url });
  try {
    await t.startDaemon();
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.channel));
    await listener.query('LISTEN embedsync');
    const { rows: [row] } = await t.pool.query<{ id: string }>(`INSERT INTO leads (title) VALUES ('Квартира у метро') RETURNING id`);
    // The claim loops poll every minute here: only the watch can have woken them.
    await waitFor('the insert embedded', async () =>
      (await t.pool.query('SELECT 1 FROM leads WHERE id = $1 AND embedding IS NOT NULL', [row!.id])).rowCount === 1, 5000);
    await t.pool.query(`UPDATE leads SET title = 'Квартира у парка' WHERE id = $1`, [row!.id]);
    await waitFor('the edit embedded', async () =>
      (await t.pool.query(`SELECT 1 FROM leads WHERE id = $1 AND embedding_text_hash = md5($2)::uuid`,
        [row!.id, documentOf('Квартира у парка', null)])).rowCount === 1, 5000);
    await t.pool.query('DELETE FROM leads WHERE id = $1', [row!.id]);
    // A notification is delivered before the next query's answer on the listening connection.
    await listener.query('SELECT 1');
    assert.deepEqual(heard, []);
  } finally {
    await listener.end();
    await t.close();
  }
});

test('uuid ids keep the INSERT trigger; migrate drops the trigger of a sequence-id table set up by an earlier version; ' +
  'remove drops the index', async () => {
  const db = await createTestDatabase('capture');
  const c = createClient({ databaseUrl: db.url });
  await c.connect();
  try {
    await c.query(`CREATE TABLE docs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), body text)`);
    await c.query(`CREATE TABLE leads (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text)`);
    const model = { name: 'tiny', checksum: 'c'.repeat(16), dimensions: 64 };
    const docs = loadConfig({
      ...TEST_ENV, DATABASE_URL: db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_TABLE: 'docs', EMBEDSYNC_TEXT_COLUMNS: 'body',
    });
    const leads = loadConfig({
      ...TEST_ENV, DATABASE_URL: db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_TABLE: 'leads', EMBEDSYNC_TEXT_COLUMNS: 'title',
    });
    assert.equal((await migrateSchema(c, docs.source, model)).insertCapture, 'trigger');
    await c.query(`INSERT INTO docs (body) VALUES ('a document'), (NULL)`);
    // The trigger logs the statement's ids (the change log: no index, nothing to fail); a look queues them.
    assert.equal(await logged(c, 'docs'), 2);
    assert.deepEqual(await lookOnce(c, docs), { enqueued: 2, lane: 'live', due: true });
    assert.equal((await c.query(`SELECT count(*)::int AS n FROM embedsync.queue WHERE source = 'public.docs'`)).rows[0].n, 2);

    assert.equal((await migrateSchema(c, leads.source, model)).insertCapture, 'watch');
    // An earlier version's install: the INSERT trigger on the table.
    const info = await inspectSource(c, leads.source);
    await c.query(renderSql('source-insert-trigger', info.sql));
    assert.equal((await c.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'leads_ins'`)).rows[0].n, 1);
    assert.equal((await migrateSchema(c, leads.source, model)).insertCapture, 'watch');
    assert.equal((await c.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'leads_ins'`)).rows[0].n, 0);

    const removed = await removeSource(c, leads.source);
    assert.deepEqual([...removed.partialIndexes].sort(), ['leads_embedsync_new', 'leads_embedsync_stale']);
    assert.equal((await c.query(`SELECT to_regclass('leads_embedsync_new') IS NULL AS gone`)).rows[0].gone, true);
    assert.equal((await c.query(`SELECT to_regclass('embedsync.leads_changes') IS NULL AS gone`)).rows[0].gone, true);
  } finally {
    await c.end();
    await db.drop();
  }
});
