// One process serving several tables (EMBEDSYNC_TABLE=*): three tables on two models with one encoder per
// model; a table migrated while it runs is served within seconds and a removed one is dropped; a model change
// on one table restarts only that table's unit while the others keep syncing. Real PostgreSQL, real encoders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { loadConfig, type Config } from '../src/config/index.ts';
import { createEncoder } from '../src/encoder/index.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { finishMigrate, migrate } from '../src/migration/migrate.ts';
import { migrateModel } from '../src/migration/model-migration.ts';
import { remove } from '../src/cli/remove.ts';
import { createClient } from '../src/db/pool.ts';
import { createLogger } from '../src/log/index.ts';
import { createEncoderShelf } from '../src/sync/encoder-shelf.ts';
import { startSupervisor } from '../src/sync/supervisor.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { modelVariantsForTests } from './helpers/model-variants.ts';
import { setupSyncDb, TEST_ENV, waitFor } from './helpers/sync.ts';

const variants = modelVariantsForTests({ other: { hidden: 64, seed: 11 } });

const loadEncoder = (model: string) => createEncoder(loadConfig({ EMBEDDING_MODEL: model, EMBEDDING_THREADS: '1' }).model);
const embedded = async (pool: pg.Pool, table: string, checksum: string) =>
  (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE embedding IS NOT NULL AND model_checksum = $1`,
    [checksum])).rows[0]!.n;

test('three tables on two models in one process; a table migrated and another removed while it runs; ' +
  'a model change on one table while the others sync', async () => {
  const t = await setupSyncDb();
  const loads: string[] = [];
  const opened: Encoder[] = [];
  const shelf = createEncoderShelf(async (m) => { loads.push(m); return loadEncoder(m); });
  let supervisor: Awaited<ReturnType<typeof startSupervisor>> | undefined;
  try {
    const other = await loadEncoder(variants.other);
    opened.push(other);
    const tiny = t.encoder.info;
    assert.notEqual(other.info.checksum, tiny.checksum);
    const configOf = (table: string, columns: string, model: string): Config => loadConfig({
      ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: model, EMBEDSYNC_TABLE: table, EMBEDSYNC_TEXT_COLUMNS: columns,
    });
    const setUp = async (config: Config, model: Encoder['info']) => {
      await migrate({ config, model });
      await finishMigrate(config, model);
    };
    await t.pool.query('CREATE TABLE notes (id serial PRIMARY KEY, body text)');
    await t.pool.query('CREATE TABLE items (id bigint PRIMARY KEY, name text, note text)');
    const leads = configOf('leads', 'title,description', TINY_MODEL_DIR);
    const notes = configOf('notes', 'body', TINY_MODEL_DIR);
    const items = configOf('items', 'name,note', variants.other);
    await setUp(leads, tiny);
    await setUp(notes, tiny);
    await setUp(items, other.info);

    supervisor = await startSupervisor({
      pool: t.pool, sync: leads.sync, logger: createLogger(process.env.EMBEDSYNC_TEST_LOG ?? 'silent'), encoders: shelf, tables: 'all',
      // A poll far off: tables coming and going are heard through NOTIFY here (the next test covers the poll).
      pollMs: 60_000, connectListener: () => createClient({ databaseUrl: t.db.url, applicationName: 'embedsync-listener' }),
    });
    assert.deepEqual([...supervisor.units.keys()].sort(), ['public.items', 'public.leads', 'public.notes']);
    assert.deepEqual([...loads].sort(), [TINY_MODEL_DIR, variants.other].sort(), 'one encoder per model, shared by the tables using it');
    assert.equal(supervisor.units.get('public.leads')!.daemon, supervisor.units.get('public.leads')!.daemon);

    await t.pool.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 40) g`);
    await t.pool.query(`INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 40) g`);
    await t.pool.query(`INSERT INTO items (id, name) SELECT g, 'item ' || g FROM generate_series(1, 40) g`);
    await waitFor('all three tables embedded, each by its own model', async () =>
      (await embedded(t.pool, 'leads', tiny.checksum)) === 40 && (await embedded(t.pool, 'notes', tiny.checksum)) === 40 &&
      (await embedded(t.pool, 'items', other.info.checksum)) === 40, 15_000);

    // A table migrated while it runs: served without a restart, its first vector within 5 s of migrate's end.
    await t.pool.query('CREATE TABLE tickets (id serial PRIMARY KEY, subject text)');
    await t.pool.query(`INSERT INTO tickets (subject) SELECT 'ticket ' || g FROM generate_series(1, 10) g`);
    await setUp(configOf('tickets', 'subject', TINY_MODEL_DIR), tiny);
    const migratedAt = Date.now();
    await waitFor('first vector of the new table', async () => (await embedded(t.pool, 'tickets', tiny.checksum)) > 0, 5000);
    const firstVectorMs = Date.now() - migratedAt;
    await waitFor('the new table embedded', async () => (await embedded(t.pool, 'tickets', tiny.checksum)) === 10, 10_000);
    assert.equal(loads.length, 2, 'the new table shares the loaded encoder of its model');

    // A table removed while it runs: dropped from the units, its writes enqueue nothing.
    await remove({ config: notes });
    await waitFor('notes dropped', async () => !supervisor!.units.has('public.notes'), 5000);
    await t.pool.query(`INSERT INTO notes (body) VALUES ('after remove')`);
    assert.equal((await t.pool.query(`SELECT 1 FROM embedsync.queue WHERE source = 'public.notes'`)).rowCount, 0);

    // A model change on leads (shadow migration to the other model) while items and tickets keep syncing.
    const leadsOther = configOf('leads', 'title,description', variants.other);
    let writes = 0;
    const writer = (async () => {
      for (let i = 0; i < 1000 && writes >= 0; i++) {
        await t.pool.query(`INSERT INTO items (id, name) VALUES ($1, $2)`, [1000 + i, `during ${i}`]);
        await t.pool.query(`INSERT INTO tickets (subject) VALUES ('during')`);
        writes += 1;
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    const changed = await migrateModel({ config: leadsOther, encoder: other });
    assert.equal(changed.handled, true);
    await waitFor('leads unit restarted on the other model',
      async () => supervisor!.units.get('public.leads')?.model === variants.other, 5000);
    await t.pool.query(`INSERT INTO leads (title) VALUES ('after the change')`);
    await waitFor('leads rows by the other model', async () => (await embedded(t.pool, 'leads', other.info.checksum)) === 41, 10_000);
    const during = writes;
    writes = -1;
    await writer;
    assert.ok(during > 0, 'the other tables were written to during the change');
    const total = async (table: string) => (await t.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
    const [itemRows, ticketRows] = [await total('items'), await total('tickets')];
    await waitFor('items and tickets kept syncing during the change', async () =>
      (await embedded(t.pool, 'items', other.info.checksum)) === itemRows &&
      (await embedded(t.pool, 'tickets', tiny.checksum)) === ticketRows, 10_000);
    assert.deepEqual([...supervisor.units.keys()].sort(), ['public.items', 'public.leads', 'public.tickets']);
    assert.ok(firstVectorMs < 5000, `first vector ${firstVectorMs} ms after migrate`);
  } finally {
    await supervisor?.stop();
    await shelf.closeAll();
    for (const e of opened) await e.close();
    await t.close();
  }
});

test('without notifications (the LISTEN connection down) the poll still picks up a migrated table and drops a removed one', async () => {
  const t = await setupSyncDb();
  const shelf = createEncoderShelf(loadEncoder);
  let supervisor: Awaited<ReturnType<typeof startSupervisor>> | undefined;
  try {
    const tiny = t.encoder.info;
    await migrate({ config: t.config, model: tiny });
    const broken = new URL(t.db.url);
    broken.port = '1'; // nothing listens there: the listener keeps reconnecting, no notification arrives
    supervisor = await startSupervisor({
      pool: t.pool, sync: t.config.sync, logger: createLogger('silent'), encoders: shelf,
      tables: [{ schema: 'public', name: 'leads' }, { schema: 'public', name: 'notes' }],
      pollMs: 300, connectListener: () => createClient({ databaseUrl: broken.toString() }),
    });
    assert.deepEqual([...supervisor.units.keys()], ['public.leads'], 'notes is listed but not migrated yet');
    await t.pool.query('CREATE TABLE notes (id serial PRIMARY KEY, body text)');
    await t.pool.query(`INSERT INTO notes (body) VALUES ('a'), ('b')`);
    const notes = loadConfig({
      ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_TABLE: 'notes', EMBEDSYNC_TEXT_COLUMNS: 'body',
    });
    await migrate({ config: notes, model: tiny });
    await waitFor('notes embedded', async () => (await embedded(t.pool, 'notes', tiny.checksum)) === 2, 5000);
    // A recorded table outside the list is not served.
    await t.pool.query('CREATE TABLE other (id serial PRIMARY KEY, body text)');
    await migrate({
      config: loadConfig({
        ...TEST_ENV, DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDSYNC_TABLE: 'other', EMBEDSYNC_TEXT_COLUMNS: 'body',
      }),
      model: tiny,
    });
    await remove({ config: notes });
    await waitFor('notes dropped', async () => !supervisor!.units.has('public.notes'), 5000);
    await supervisor.reconcile();
    assert.deepEqual([...supervisor.units.keys()], ['public.leads']);
  } finally {
    await supervisor?.stop();
    await shelf.closeAll();
    await t.close();
  }
});
