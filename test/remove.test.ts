// `embedsync remove`: the table is left with no embedsync object, the application's INSERT, UPDATE, DELETE and
// TRUNCATE work unchanged and enqueue nothing, another table's setup is untouched; --dry-run changes nothing.
// And migrate's recorded settings: a differing setting is refused unless updated on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { finishMigrate, migrate } from '../src/migration/migrate.ts';
import { migrateModel } from '../src/migration/model-migration.ts';
import { createEncoder } from '../src/encoder/index.ts';
import { modelVariantsForTests } from './helpers/model-variants.ts';
import { remove } from '../src/cli/remove.ts';
import { readRecordedSource, SettingsChangedError } from '../src/db/source-settings.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { lookOnce, setupSyncDb, TEST_ENV, waitFor, type SyncTestDb } from './helpers/sync.ts';

const variants = modelVariantsForTests({ sibling: { hidden: 64, seed: 9 } });

const count = async (pool: pg.Pool, sql: string, params: unknown[] = []) => (await pool.query<{ n: number }>(sql, params)).rows[0]!.n;
const triggers = (pool: pg.Pool, table: string) => count(pool,
  `SELECT count(*)::int AS n FROM pg_trigger t WHERE t.tgrelid = $1::regclass AND NOT t.tgisinternal`, [table]);
const functionsOf = (pool: pg.Pool, stem: string) => count(pool,
  `SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'embedsync'::regnamespace AND (proname LIKE $1 OR proname = $2)`,
  [`${stem}\\_%`, `doc_${stem}`]);
const indexes = async (pool: pg.Pool, table: string) => (await pool.query<{ name: string }>(
  'SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1', [table])).rows.map((r) => r.name);
const columns = async (pool: pg.Pool, table: string) => (await pool.query<{ name: string }>(
  'SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum', [table]))
  .rows.map((r) => r.name);
const records = (pool: pg.Pool, source: string) => count(pool, `SELECT (
  (SELECT count(*) FROM embedsync.queue WHERE source = $1) + (SELECT count(*) FROM embedsync.deadletter WHERE source = $1) +
  (SELECT count(*) FROM embedsync.state WHERE source = $1) + (SELECT count(*) FROM embedsync.sweep WHERE source = $1) +
  (SELECT count(*) FROM embedsync.vector_index WHERE source = $1) + (SELECT count(*) FROM embedsync.sources WHERE source = $1) +
  (SELECT count(*) FROM embedsync.search_default WHERE source = $1) + (SELECT count(*) FROM embedsync.fulltext WHERE source = $1) +
  (SELECT count(*) FROM embedsync.vector_count WHERE source = $1))::int AS n`, [source]);

/** leads (the default table) and notes, both migrated with search functions; leads has queued and dead-lettered rows. */
async function twoTables(): Promise<{ t: SyncTestDb; notes: ReturnType<typeof loadConfig> }> {
  const t = await setupSyncDb({ EMBEDSYNC_INDEX: 'hnsw' });
  const model = t.encoder.info;
  await migrate({ config: t.config, model });
  await finishMigrate(t.config, model);
  await t.pool.query('CREATE TABLE notes (id serial PRIMARY KEY, body text)');
  const notes = loadConfig({
    ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_TABLE: 'notes', EMBEDSYNC_TEXT_COLUMNS: 'body',
  });
  await migrate({ config: notes, model });
  await finishMigrate(notes, model);
  await t.pool.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 20) g`);
  await t.look();
  await t.pool.query('INSERT INTO embedsync.deadletter (source, id, attempts, last_error, enqueued_at) ' +
    `VALUES ('public.leads', '1', 3, 'bad row', now())`);
  return { t, notes };
}

test('remove --dry-run prints the plan and changes nothing', async () => {
  const { t } = await twoTables();
  try {
    const before = {
      trig: await triggers(t.pool, 'leads'), fns: await functionsOf(t.pool, 'leads'), rec: await records(t.pool, 'public.leads'),
    };
    const plan = await remove({ config: t.config, dryRun: true, dropColumns: true });
    assert.deepEqual([...plan.triggers].sort(), ['leads_del', 'leads_trunc', 'leads_upd'], 'no INSERT trigger: ids from a sequence');
    assert.deepEqual([...plan.functions].sort(),
      ['leads_del', 'leads_hybrid_search', 'leads_ins', 'leads_search', 'leads_similar_to', 'leads_trunc', 'leads_upd']);
    assert.equal(plan.queued, 20);
    assert.equal(plan.deadlettered, 1);
    assert.ok(plan.state && plan.settings && plan.searchDefault);
    assert.deepEqual([...plan.columns].sort(), ['embedded_at', 'embedding', 'embedding_text_hash', 'embedding_tsv', 'model_checksum']);
    assert.equal(plan.vectorIndexes.length, 1, 'the hnsw index on the embedding column');
    assert.deepEqual({
      trig: await triggers(t.pool, 'leads'), fns: await functionsOf(t.pool, 'leads'), rec: await records(t.pool, 'public.leads'),
    }, before);
    assert.ok(before.trig === 3 && before.rec > 20);
  } finally {
    await t.close();
  }
});

test('remove: no embedsync object left on the table; the application writes work and enqueue nothing; ' +
  'the other table is untouched', async () => {
  const { t, notes } = await twoTables();
  try {
    const plan = await remove({ config: t.config });
    assert.equal(plan.queued, 20);
    assert.equal(await triggers(t.pool, 'leads'), 0);
    assert.equal(await functionsOf(t.pool, 'leads'), 0);
    assert.equal(await records(t.pool, 'public.leads'), 0);
    assert.equal(await count(t.pool, `SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'embedsync'::regnamespace ` +
      `AND proname IN ('similar_to', 'search', 'hybrid_search')`), 0,
      'the unqualified search functions served leads and went with it');
    // Without --drop-columns the vectors, the tsvector and their indexes stay (searchable by hand); the sweep's index goes.
    assert.ok((await columns(t.pool, 'leads')).includes('embedding'));
    assert.deepEqual((await indexes(t.pool, 'leads')).filter((i) => i.includes('embedsync')), ['leads_embedsync_fulltext']);

    // The application's writes, each kind, with the columns the daemon used to write included.
    await t.pool.query(`INSERT INTO leads (title, description) VALUES ('after', 'remove')`);
    await t.pool.query(`UPDATE leads SET title = title || '!', embedding = NULL`);
    await t.pool.query('DELETE FROM leads WHERE id <= 5');
    await t.pool.query('TRUNCATE leads');
    await t.pool.query(`INSERT INTO leads (title) VALUES ('again')`);
    assert.equal(await count(t.pool, `SELECT count(*)::int AS n FROM embedsync.queue WHERE source = 'public.leads'`), 0);

    // notes keeps its triggers, functions and queue.
    assert.equal(await triggers(t.pool, 'notes'), 3);
    await t.pool.query(`INSERT INTO notes (body) VALUES ('still synced')`);
    assert.equal((await lookOnce(t.pool, notes)).enqueued, 1);
    assert.equal(await count(t.pool, `SELECT count(*)::int AS n FROM embedsync.queue WHERE source = 'public.notes'`), 1);
    assert.equal(await count(t.pool, `SELECT count(*)::int AS n FROM embedsync.notes_similar_to(1, 5)`), 0);

    // Removing again finds nothing; migrating again sets it all up anew.
    const again = await remove({ config: t.config });
    assert.deepEqual([again.triggers.length, again.functions.length, again.queued, again.state], [0, 0, 0, false]);
    await migrate({ config: t.config, model: t.encoder.info });
    assert.equal(await triggers(t.pool, 'leads'), 3);
    assert.ok((await indexes(t.pool, 'leads')).includes('leads_embedsync_new'), 'the new-rows index is back');
  } finally {
    await t.close();
  }
});

test('remove --drop-columns drops the managed columns and their index; while the table\'s daemon runs', async () => {
  const { t } = await twoTables();
  try {
    const d = await t.startDaemon();
    await waitFor('leads embedded',
      async () => (await count(t.pool, 'SELECT count(*)::int AS n FROM leads WHERE embedding IS NOT NULL')) === 20, 10_000);
    await remove({ config: t.config, dropColumns: true });
    assert.deepEqual(await columns(t.pool, 'leads'), ['id', 'title', 'description', 'city', 'price', 'status', 'created_at']);
    assert.deepEqual(await indexes(t.pool, 'leads'), ['leads_pkey']);
    assert.equal(await triggers(t.pool, 'leads'), 0);
    await t.pool.query(`INSERT INTO leads (title) SELECT 'x' || g FROM generate_series(1, 10) g`);
    await t.pool.query(`UPDATE leads SET title = 'y'`);
    await t.pool.query('DELETE FROM leads WHERE id % 2 = 0');
    await t.pool.query('TRUNCATE leads');
    assert.equal(await records(t.pool, 'public.leads'), 0);
    await d.stop();
  } finally {
    await t.close();
  }
});

test('migrate records the table settings; differing ones are refused unless updated on purpose', async () => {
  const t = await setupSyncDb();
  try {
    const model = t.encoder.info;
    await migrate({ config: t.config, model });
    const r = await readRecordedSource(t.pool, 'public.leads');
    assert.deepEqual(r && {
      cols: r.source.textColumns, id: r.source.idColumn, model: r.model, checksum: r.checksum, dims: r.dimensions, index: r.source.index,
    }, {
      cols: ['title', 'description'], id: 'id', model: TINY_MODEL_DIR, checksum: model.checksum, dims: model.dimensions, index: 'ivfflat',
    });

    const other = loadConfig({
      ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_TEXT_COLUMNS: 'title', EMBEDSYNC_INDEX: 'hnsw',
    });
    const err = await migrate({ config: other, model }).then(() => assert.fail('accepted other settings'), (e: Error) => e);
    assert.ok(err instanceof SettingsChangedError);
    assert.match(err.message, /EMBEDSYNC_TEXT_COLUMNS: recorded title,description, configured title/);
    assert.match(err.message, /EMBEDSYNC_INDEX: recorded ivfflat, configured hnsw/);
    assert.match(err.message, /--update-settings/);
    assert.deepEqual((await readRecordedSource(t.pool, 'public.leads'))!.source.textColumns, ['title', 'description'], 'nothing changed');

    const done = await migrate({ config: other, model, updateSettings: true });
    assert.equal(done.settingsChanged.length, 2);
    assert.deepEqual((await readRecordedSource(t.pool, 'public.leads'))!.source.textColumns, ['title']);
    // The triggers follow: a change to description alone no longer enqueues.
    await t.pool.query(`INSERT INTO leads (title, description) VALUES ('t', 'd')`);
    await t.pool.query('DELETE FROM embedsync.queue');
    await t.pool.query(`UPDATE leads SET description = 'other'`);
    assert.equal(await count(t.pool, 'SELECT count(*)::int AS n FROM embedsync.queue'), 0);
  } finally {
    await t.close();
  }
});

test('remove in the middle of a model migration drops its shadow columns too, keeping the current vectors', async () => {
  const t = await setupSyncDb();
  const other = await createEncoder(loadConfig({ EMBEDDING_MODEL: variants.sibling, EMBEDDING_THREADS: '1' }).model);
  try {
    await migrate({ config: t.config, model: t.encoder.info });
    await t.pool.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 30) g`);
    const crash = await migrateModel({
      config: loadConfig({ ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: variants.sibling }), encoder: other, chunkSize: 10,
      fault: (point) => { if (point === 'mid-backfill') throw new Error('crash mid-backfill'); },
    }).then(() => undefined, (e: Error) => e);
    assert.match(String(crash?.message), /crash mid-backfill/);
    assert.ok((await columns(t.pool, 'leads')).includes('embedding_next'), 'the migration left its shadow columns');
    const plan = await remove({ config: t.config });
    assert.deepEqual([...plan.columns].sort(), ['embedding_next', 'embedding_text_hash_next', 'model_checksum_next']);
    const cols = await columns(t.pool, 'leads');
    assert.ok(cols.includes('embedding') && !cols.some((c) => c.endsWith('_next')));
    assert.equal(await records(t.pool, 'public.leads'), 0);
    assert.equal(await triggers(t.pool, 'leads'), 0);
  } finally {
    await other.close();
    await t.close();
  }
});
