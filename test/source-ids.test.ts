// The id column: migrate accepts only one that names one row (primary key, or unique and NOT NULL), says
// what to add otherwise and changes nothing; the triggers never make the application's writes fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { createTestDatabase } from './helpers/db.ts';
import { lookOnce, setupSyncDb } from './helpers/sync.ts';

const MODEL = { name: 'test-model', checksum: 'c0ffee', dimensions: 8 } as const;

async function refusal(ddl: string): Promise<{ error: Error; schema: boolean; columns: string[] }> {
  const db = await createTestDatabase('ids');
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(ddl);
    const config = loadConfig({ DATABASE_URL: db.url, EMBEDSYNC_TABLE: 'notes', EMBEDSYNC_TEXT_COLUMNS: 'body' });
    const error = await migrateSchema(c, config.source, MODEL).then(() => assert.fail('migrate accepted the id column'), (e: Error) => e);
    const schema = (await c.query("SELECT 1 FROM pg_namespace WHERE nspname = 'embedsync'")).rowCount === 1;
    const columns = (await c.query<{ attname: string }>(
      "SELECT attname FROM pg_attribute WHERE attrelid = 'notes'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"))
      .rows.map((r) => r.attname);
    return { error, schema, columns };
  } finally {
    await c.end();
    await db.drop();
  }
}

test('migrate refuses an id that is neither primary key nor unique, names the fix, and changes nothing', async () => {
  const r = await refusal('CREATE TABLE notes (id bigint, body text)');
  assert.match(r.error.message, /is not unique.*allows NULL/);
  assert.match(r.error.message, /ALTER TABLE "public"\."notes" ADD PRIMARY KEY \("id"\);/);
  assert.equal(r.schema, false, 'schema embedsync was not created');
  assert.deepEqual(r.columns, ['id', 'body'], 'no column added');
});

test('migrate refuses a unique id that allows NULL, and asks for NOT NULL', async () => {
  const r = await refusal('CREATE TABLE notes (id bigint UNIQUE, body text)');
  assert.match(r.error.message, /allows NULL/);
  assert.doesNotMatch(r.error.message, /not unique/);
  assert.match(r.error.message, /ALTER TABLE "public"\."notes" ALTER COLUMN "id" SET NOT NULL;/);
  assert.equal(r.schema, false);
});

test('a unique NOT NULL id (no primary key) is accepted', async () => {
  const db = await createTestDatabase('ids');
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query('CREATE TABLE notes (id text NOT NULL UNIQUE, body text)');
    const config = loadConfig({ DATABASE_URL: db.url, EMBEDSYNC_TABLE: 'notes', EMBEDSYNC_TEXT_COLUMNS: 'body' });
    await migrateSchema(c, config.source, MODEL);
    await c.query("INSERT INTO notes VALUES ('a', 'x')");
    await lookOnce(c, config);
    assert.equal((await c.query("SELECT 1 FROM embedsync.queue WHERE id = 'a'")).rowCount, 1);
  } finally {
    await c.end();
    await db.drop();
  }
});

test('triggers never fail the application\'s writes: duplicate ids in one statement, NULL ids', async () => {
  const t = await setupSyncDb();
  try {
    // The application drops the key after migrate (a schema change embedsync did not see).
    await t.pool.query('ALTER TABLE leads DROP CONSTRAINT leads_pkey, ALTER COLUMN id DROP NOT NULL');
    await t.pool.query(`INSERT INTO leads (id, title) VALUES (1, 'a'), (1, 'b'), (NULL, 'c')`);
    await t.pool.query(`UPDATE leads SET title = title || '!' WHERE id = 1`);
    await t.pool.query(`INSERT INTO leads (id, title) SELECT 2, 'x' || g FROM generate_series(1, 3) g`);
    await t.pool.query(`UPDATE leads SET title = 'y', id = 2 WHERE id IS NULL`);
    // The look that moves the log into the queue (and takes the new rows) drops the NULL and the repeats.
    await t.look();
    const { rows } = await t.pool.query<{ id: string }>('SELECT id FROM embedsync.queue ORDER BY id');
    assert.deepEqual(rows.map((r) => r.id), ['1', '2']);
  } finally {
    await t.close();
  }
});
