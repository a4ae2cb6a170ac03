// Several source tables in one database: each table's queue entries, dead letters, triggers and search
// functions are its own; one table's daemon, TRUNCATE or DELETE never touches another's work, and the
// unqualified search functions keep serving the first table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';
import { finishMigrate, migrate } from '../src/migration/migrate.ts';
import { finishLines } from '../src/cli/migrate-report.ts';
import { createClient } from '../src/db/pool.ts';
import { startSyncDaemon, type SyncDaemon } from '../src/sync/daemon.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { setupSyncDb, TEST_ENV, waitFor } from './helpers/sync.ts';

const NOTES_DDL = 'CREATE TABLE notes (id serial PRIMARY KEY, body text)';
const queued = async (pool: import('pg').Pool, source: string) =>
  (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.queue WHERE source = $1', [source])).rows[0]!.n;

test('two tables side by side: each daemon embeds only its own rows; TRUNCATE and DELETE stay within their table', async () => {
  const t = await setupSyncDb();
  const daemons: SyncDaemon[] = [];
  try {
    await t.pool.query(NOTES_DDL);
    const notes = loadConfig({
      ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_TABLE: 'notes', EMBEDSYNC_TEXT_COLUMNS: 'body',
    });
    const model = t.encoder.info;
    await migrate({ config: notes, model });
    await finishMigrate(notes, model);
    const start = (source: typeof notes.source) => startSyncDaemon({
      pool: t.pool, encoder: t.encoder, source, sync: notes.sync, logger: createLogger('silent'),
      connectListener: () => createClient({ databaseUrl: t.db.url }),
    }).then((d) => { daemons.push(d); return d; });

    // Only the notes daemon runs: 31 new leads rows must stay queued for theirs, not be dequeued as "gone".
    await start(notes.source);
    await t.pool.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 31) g`);
    // The leads daemon's watch would enqueue them; none runs, so one look by hand.
    assert.equal((await t.look()).enqueued, 31);
    await t.pool.query(`INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 5) g`);
    await waitFor('notes embedded', async () => (await t.pool.query('SELECT 1 FROM notes WHERE embedding IS NOT NULL')).rowCount === 5);
    await new Promise((r) => setTimeout(r, 500)); // a few more polls of the notes daemon
    assert.equal(await queued(t.pool, 'public.leads'), 31, 'leads rows still queued for the leads daemon');

    // TRUNCATE and DELETE on notes leave the leads entries alone (ids 1..5 exist in both tables).
    await t.pool.query(`INSERT INTO notes (body) VALUES ('pending')`);
    await t.pool.query('DELETE FROM notes WHERE id <= 3');
    await t.pool.query('TRUNCATE notes');
    assert.equal(await queued(t.pool, 'public.leads'), 31);
    assert.equal(await queued(t.pool, 'public.notes'), 0);

    await start(t.config.source);
    await waitFor('leads embedded',
      async () => (await t.pool.query('SELECT 1 FROM leads WHERE embedding IS NOT NULL')).rowCount === 31, 10_000);
    assert.equal(await queued(t.pool, 'public.leads'), 0);
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    await t.close();
  }
});

test('search functions: per table always, the unqualified ones keep serving the first table', async () => {
  const t = await setupSyncDb();
  try {
    const model = t.encoder.info;
    await finishMigrate(t.config, model);
    await t.pool.query(NOTES_DDL);
    // A serial id (integer) where leads has bigint: the unqualified functions' types must not be changed.
    const notes = loadConfig({
      ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_TABLE: 'notes', EMBEDSYNC_TEXT_COLUMNS: 'body',
    });
    await migrate({ config: notes, model });
    const lines = finishLines(await finishMigrate(notes, model));
    assert.match(lines[0]!, /embedsync\.notes_similar_to, embedsync\.notes_search, embedsync\.notes_hybrid_search installed \(embedsync\.similar_to, embedsync\.search and embedsync\.hybrid_search keep serving public\.leads\)/);

    const vec = `(SELECT array_agg(random() - 0.5) FROM generate_series(1, 64) d WHERE d > g * 0)::vector`;
    await t.pool.query(`INSERT INTO leads (id, title, embedding, model_checksum) SELECT g, 'l' || g, ${vec}, $1 ` +
      'FROM generate_series(1, 20) g', [model.checksum]);
    await t.pool.query(`INSERT INTO notes (id, body, embedding, model_checksum) SELECT g, 'n' || g, ${vec}, $1 ` +
      'FROM generate_series(101, 120) g', [model.checksum]);
    const ids = async (sql: string) => (await t.pool.query<{ id: string }>(sql)).rows.map((r) => Number(r.id));
    const leadIds = await ids('SELECT id::text FROM embedsync.similar_to(1, 5)');
    assert.equal(leadIds.length, 5);
    assert.ok(leadIds.every((i) => i <= 20), 'unqualified similar_to still answers from leads');
    assert.deepEqual((await ids('SELECT id::text FROM embedsync.leads_similar_to(1, 5)')).sort(), [...leadIds].sort());
    const noteIds = await ids('SELECT id::text FROM embedsync.notes_similar_to(101, 5)');
    assert.equal(noteIds.length, 5);
    assert.ok(noteIds.every((i) => i > 100));
    const q = `[${Array.from({ length: 64 }, (_, i) => Math.cos(i).toFixed(3)).join(',')}]`;
    assert.ok((await ids(`SELECT id::text FROM embedsync.notes_search('${q}'::vector, 3)`)).every((i) => i > 100));
    assert.ok((await ids(`SELECT id::text FROM embedsync.search('${q}'::vector, 3)`)).every((i) => i <= 20));
    assert.ok((await ids(`SELECT id::text FROM embedsync.notes_hybrid_search('n1', '${q}'::vector, 3)`)).every((i) => i > 100));
    assert.ok((await ids(`SELECT id::text FROM embedsync.hybrid_search('l1', '${q}'::vector, 3)`)).every((i) => i <= 20));
    const { rows } = await t.pool.query<{ t: string }>(
      "SELECT pg_get_function_result('embedsync.notes_similar_to'::regproc) AS t");
    assert.match(rows[0]!.t, /id integer/);
  } finally {
    await t.close();
  }
});

test('upgrade: queue entries and dead letters from before sources belong to the installed table', async () => {
  const { createTestDatabase, LEADS_DDL } = await import('./helpers/db.ts');
  const { listMigrations, migrateSchema } = await import('../src/migration/schema-install.ts');
  const db = await createTestDatabase('upg');
  const c = createClient({ databaseUrl: db.url });
  await c.connect();
  try {
    await c.query(LEADS_DDL);
    await c.query('CREATE SCHEMA embedsync');
    await c.query('CREATE TABLE embedsync.migrations ' +
      '(version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const m of listMigrations().filter((x) => x.version <= 3)) {
      await c.query(m.sql);
      await c.query('INSERT INTO embedsync.migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    await c.query(`INSERT INTO embedsync.state (source, model, model_checksum, dimensions) VALUES ('public.leads', 'm', 'abc', 64)`);
    await c.query(`INSERT INTO embedsync.queue (id) VALUES ('1'), ('2')`);
    await c.query(`INSERT INTO embedsync.deadletter (id, attempts, enqueued_at) VALUES ('3', 5, now())`);
    const cfg = loadConfig({ DATABASE_URL: db.url });
    await migrateSchema(c, cfg.source, { name: 'm', checksum: 'abc', dimensions: 64 });
    const q = await c.query<{ source: string; id: string }>('SELECT source, id FROM embedsync.queue ORDER BY id');
    assert.deepEqual(q.rows, [{ source: 'public.leads', id: '1' }, { source: 'public.leads', id: '2' }]);
    const d = await c.query<{ source: string }>('SELECT source FROM embedsync.deadletter');
    assert.deepEqual(d.rows, [{ source: 'public.leads' }]);
  } finally {
    await c.end();
    await db.drop();
  }
});
