// The compiled UPDATE trigger function (extension/, the optional extension embedsync_capture; scripts/setup.sh
// installs it on the test server): migrate uses it where the database has the extension, and it logs exactly the
// changes the PL/pgSQL function logs, for writers without rights on schema embedsync, in partitions too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { createClient, createPool } from '../src/db/pool.ts';
import { loadSql } from '../src/db/sql-template.ts';
import { migrateSchema, type MigrateResult } from '../src/migration/schema-install.ts';
import { createTestDatabase } from './helpers/db.ts';
import { doctorCheck } from './helpers/doctor.ts';
import { asRole, dropRole } from './helpers/roles.ts';
import { createTestEncoder, lanes, logged, setupSyncDb, type SyncTestDb, TEST_ENV, waitFor } from './helpers/sync.ts';

const updateTrigger = async (pool: pg.Pool) => (await pool.query<{ def: string }>(
  `SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgname = 'leads_upd'`)).rows[0]?.def;

async function migrate(t: Pick<SyncTestDb, 'db' | 'config' | 'encoder'>): Promise<MigrateResult> {
  const c = createClient({ databaseUrl: t.db.url });
  await c.connect();
  return migrateSchema(c, t.config.source, t.encoder.info).finally(() => c.end());
}

/** A new database for a test that creates its own `leads`: a pool, the test model, and a config (TEST_ENV and `env`). */
async function withDatabase(prefix: string, env: Record<string, string>,
  body: (d: Pick<SyncTestDb, 'db' | 'pool' | 'config' | 'encoder'>) => Promise<void>): Promise<void> {
  const db = await createTestDatabase(prefix);
  const pool = createPool({ databaseUrl: db.url, max: 4 });
  const encoder = await createTestEncoder();
  try {
    await body({ db, pool, encoder, config: loadConfig({ ...TEST_ENV, ...env, DATABASE_URL: db.url }) });
  } finally {
    await pool.end();
    await encoder.close();
    await db.drop();
  }
}

test('migrate has the UPDATE trigger call the compiled function once the database has embedsync_capture, and back', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_BULK_ROWS: '10' });
  const role = `writer_${process.pid}`;
  try {
    await t.pool.query(`INSERT INTO leads (title, description) SELECT 'lead ' || g, 'text ' || g FROM generate_series(1, 12) g`);
    // As if embedded: out of the new-rows index, so the looks below see only the updates.
    await t.pool.query('UPDATE leads SET model_checksum = $1', ['x'.repeat(16)]);
    await t.pool.query('TRUNCATE embedsync.queue');
    assert.match((await updateTrigger(t.pool))!, /EXECUTE FUNCTION embedsync\.leads_upd\(\)$/);

    assert.match((await doctorCheck(t.config, 'triggers'))!.found,
      /updates: the PL\/pgSQL function \(embedsync_capture is available on this server: docs\/sync\.md#the-compiled-update-function\)$/);
    assert.equal((await migrate(t)).compiledAvailable, true, 'the server has the files, the database not the extension');
    await t.pool.query('CREATE EXTENSION embedsync_capture');
    assert.match((await doctorCheck(t.config, 'triggers'))!.found,
      /updates: the PL\/pgSQL function \(embedsync_capture is installed: migrate switches to it\)$/);
    const r = await migrate(t);
    assert.equal(r.updateFunction, 'compiled');
    assert.equal(r.compiledAvailable, false);
    assert.deepEqual(r.warnings, []);
    assert.match((await updateTrigger(t.pool))!,
      /AFTER UPDATE OF id, title, description ON public\.leads FOR EACH ROW EXECUTE FUNCTION embedsync\.capture_update\('leads_changes', 'id'\)$/);
    assert.deepEqual(await doctorCheck(t.config, 'triggers'), { ok: true, name: 'triggers', found: '3 embedsync triggers ' +
      'enabled on "public"."leads" (inserts: the daemons\' watch, no INSERT trigger), updates: the compiled function' });

    // What logs and what does not: as the PL/pgSQL function (test/lanes.test.ts).
    const id = (await t.pool.query<{ id: string }>('SELECT min(id)::text AS id FROM leads')).rows[0]!.id;
    await t.pool.query('UPDATE leads SET city = $1, price = 5', ['Казань']);
    await t.pool.query('UPDATE leads SET title = title, description = description');
    assert.equal(await logged(t.pool), 0, 'no document column changed');
    await t.pool.query(`UPDATE leads SET title = 'edited' WHERE id = $1`, [id]);
    assert.equal(await logged(t.pool), 1);
    await t.pool.query(`UPDATE leads SET description = NULL WHERE id = $1`, [id]);
    assert.equal(await logged(t.pool), 2, 'a value that became NULL');
    // A long description, stored out of line (TOAST): the same value is no change, whether left alone or set again.
    const long = `(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 4000) g)`;
    await t.pool.query(`UPDATE leads SET description = ${long} WHERE id = $1`, [id]);
    assert.equal(await logged(t.pool), 3);
    await t.pool.query(`UPDATE leads SET description = description, title = title WHERE id = $1`, [id]);
    await t.pool.query(`UPDATE leads SET description = ${long} WHERE id = $1`, [id]);
    assert.equal(await logged(t.pool), 3, 'the long value unchanged');
    await t.pool.query(`UPDATE leads SET description = ${long} || '.' WHERE id = $1`, [id]);
    assert.equal(await logged(t.pool), 4);
    // A new id is a change (the new id logged); a rolled-back change leaves nothing.
    await t.pool.query(`UPDATE leads SET id = id + 1000 WHERE id = $1`, [id]);
    const moved = await t.pool.query(`SELECT count(*)::int AS n FROM embedsync.leads_changes WHERE id = $1::bigint + 1000`, [id]);
    assert.equal(moved.rows[0]!.n, 1);
    await t.pool.query(`BEGIN; UPDATE leads SET title = 'rolled back'; ROLLBACK`);
    assert.equal(await logged(t.pool), 5);

    // The lanes: each entry carries its statement's time, so a statement over EMBEDSYNC_BULK_ROWS goes to bulk.
    assert.deepEqual(await t.look(), { enqueued: 2, lane: 'live', due: true });
    await t.pool.query('TRUNCATE embedsync.queue');
    await t.pool.query(`UPDATE leads SET description = 'bulk edit'`);
    await t.pool.query(`UPDATE leads SET title = 'live edit' WHERE id = (SELECT max(id) FROM leads)`);
    await t.look();
    assert.deepEqual(await lanes(t.pool), { live: 1, bulk: 11 });

    // A writer with no right on schema embedsync: its updates are logged all the same.
    await t.pool.query('TRUNCATE embedsync.queue');
    await t.pool.query(`CREATE ROLE ${role}`);
    await t.pool.query(`GRANT SELECT, UPDATE ON leads TO ${role}`);
    await asRole(t.pool, role, async (c) => {
      await assert.rejects(c.query('SELECT * FROM embedsync.leads_changes'), /permission denied/);
      await c.query(`UPDATE leads SET title = title || '!'`);
    });
    assert.equal(await logged(t.pool), 12);

    // The daemon embeds what the compiled function logged.
    await t.pool.query(`UPDATE leads SET title = 'to embed', description = 'now' WHERE id = (SELECT min(id) FROM leads)`);
    await t.startDaemon();
    await waitFor('the edited row embedded', async () => (await t.pool.query(`SELECT 1 FROM leads
      WHERE title = 'to embed' AND embedding IS NOT NULL AND model_checksum = $1`, [t.encoder.info.checksum])).rowCount, 15_000);

    // DROP EXTENSION … CASCADE takes the UPDATE trigger with it: doctor says so, and migrate puts the PL/pgSQL one back.
    await t.pool.query('DROP EXTENSION embedsync_capture CASCADE');
    assert.equal((await doctorCheck(t.config, 'triggers'))!.ok, false);
    assert.equal((await migrate(t)).updateFunction, 'plpgsql');
    assert.match((await updateTrigger(t.pool))!, /EXECUTE FUNCTION embedsync\.leads_upd\(\)$/);
    assert.equal((await doctorCheck(t.config, 'triggers'))!.ok, true);
  } finally {
    await dropRole(t.pool, role);
    await t.close();
  }
});

test('the compiled function is used only by roles granted it, and writes nothing but a change log', async () => {
  const t = await setupSyncDb();
  const role = `migrator_${process.pid}`;
  try {
    await t.pool.query('CREATE EXTENSION embedsync_capture');
    // The extension grants its function to no one: a role must be granted it before migrate will use it.
    await t.pool.query(`CREATE ROLE ${role}`);
    const usable = () => asRole(t.pool, role, async (c) =>
      (await c.query<{ installed: boolean; available: boolean; usable: boolean }>(loadSql('capture-compiled'))).rows[0]);
    assert.deepEqual(await usable(), { installed: true, available: true, usable: false });
    await assert.rejects(asRole(t.pool, role, (c) => c.query(
      `CREATE TRIGGER x AFTER UPDATE OF title ON leads FOR EACH ROW EXECUTE FUNCTION embedsync.capture_update('leads_changes', 'id')`)),
    /permission denied/);
    await t.pool.query(`GRANT EXECUTE ON FUNCTION embedsync.capture_update() TO ${role}`);
    assert.deepEqual(await usable(), { installed: true, available: true, usable: true });

    // Attached by hand to anything but an AFTER UPDATE row trigger, or pointed at another table, it refuses.
    await t.pool.query(`INSERT INTO leads (title) VALUES ('a')`);
    await t.pool.query(`CREATE TRIGGER x AFTER UPDATE OF title ON leads FOR EACH ROW
      EXECUTE FUNCTION embedsync.capture_update('pg_class', 'id')`);
    await assert.rejects(t.pool.query(`UPDATE leads SET title = 'b'`), /"pg_class" is not a change log name/);
    await t.pool.query(`CREATE TABLE embedsync.other_changes (id text, at timestamptz)`);
    await t.pool.query(`CREATE OR REPLACE TRIGGER x AFTER UPDATE OF title ON leads FOR EACH ROW
      EXECUTE FUNCTION embedsync.capture_update('other_changes', 'id')`);
    await assert.rejects(t.pool.query(`UPDATE leads SET title = 'b'`), /embedsync\.other_changes is not the change log embedsync migrate creates/);
    await t.pool.query(`CREATE OR REPLACE TRIGGER x BEFORE UPDATE OF title ON leads FOR EACH ROW
      EXECUTE FUNCTION embedsync.capture_update('leads_changes', 'id')`);
    await assert.rejects(t.pool.query(`UPDATE leads SET title = 'b'`), /must be fired AFTER UPDATE FOR EACH ROW/);
    await t.pool.query('DROP TRIGGER x ON leads');

    // An index someone added to the log is kept up to date.
    assert.equal((await migrate(t)).updateFunction, 'compiled');
    await t.pool.query('CREATE INDEX leads_changes_id ON embedsync.leads_changes (id)');
    await t.pool.query(`UPDATE leads SET title = 'indexed'`);
    const c = await t.pool.connect();
    try {
      await c.query('SET enable_seqscan = off');
      const plan = (await c.query<{ 'QUERY PLAN': string }>('EXPLAIN SELECT id FROM embedsync.leads_changes WHERE id > 0')).rows;
      assert.match(plan.map((p) => p['QUERY PLAN']).join('\n'), /leads_changes_id/);
      assert.equal((await c.query('SELECT id FROM embedsync.leads_changes WHERE id > 0')).rowCount, 1);
    } finally {
      c.release();
    }
  } finally {
    await dropRole(t.pool, role);
    await t.close();
  }
});

test('the compiled function on a partitioned table and with EMBEDSYNC_DOCUMENT_SQL', async () => {
  const env = { EMBEDSYNC_DOCUMENT_SQL: "concat_ws(' / ', title, city, price::text)" };
  await withDatabase('compiled', env, async ({ db, pool, encoder, config }) => {
    await pool.query(`CREATE TABLE leads (id bigserial PRIMARY KEY, title text, description text, city text, price numeric,
        status text NOT NULL DEFAULT 'new') PARTITION BY HASH (id);
      CREATE TABLE leads_p0 PARTITION OF leads FOR VALUES WITH (MODULUS 2, REMAINDER 0);
      CREATE TABLE leads_p1 PARTITION OF leads FOR VALUES WITH (MODULUS 2, REMAINDER 1);`);
    await pool.query(`INSERT INTO leads (title, city, price) SELECT 'lead ' || g, 'Москва', g FROM generate_series(1, 6) g`);
    await migrate({ db, config, encoder });
    await pool.query('CREATE EXTENSION embedsync_capture');
    assert.equal((await migrate({ db, config, encoder })).updateFunction, 'compiled');
    await pool.query('TRUNCATE embedsync.leads_changes');
    // Partitions inherit the trigger; each compares its own columns (the document's: title, city, price).
    const parts = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_trigger
      WHERE tgrelid IN ('leads_p0'::regclass, 'leads_p1'::regclass) AND tgname = 'leads_upd'`);
    assert.equal(parts.rows[0]!.n, 2);
    await pool.query(`UPDATE leads SET description = 'not in the document', status = 'done'`);
    await pool.query('UPDATE leads SET price = price, city = city');
    assert.equal(await logged(pool), 0);
    await pool.query('UPDATE leads SET price = price + 1');
    assert.equal(await logged(pool), 6, 'one entry per row, from both partitions');
  });
});

test('the compiled function: upserts, MERGE and a 100,000-row statement log every row they change', async () => {
  const t = await setupSyncDb();
  try {
    await t.pool.query('CREATE EXTENSION embedsync_capture');
    assert.equal((await migrate(t)).updateFunction, 'compiled');
    await t.pool.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 100000) g`);
    await t.pool.query('TRUNCATE embedsync.leads_changes');
    // ON CONFLICT DO UPDATE: the row that changes is logged, the one set to what it was is not.
    await t.pool.query(`INSERT INTO leads (id, title) VALUES (1, 'upserted'), (2, 'lead 2')
      ON CONFLICT (id) DO UPDATE SET title = excluded.title`);
    assert.deepEqual((await t.pool.query<{ id: string }>('SELECT id::text FROM embedsync.leads_changes')).rows, [{ id: '1' }]);
    await t.pool.query(`MERGE INTO leads l USING (VALUES (3, 'merged'), (4, 'lead 4')) v(id, title) ON l.id = v.id
      WHEN MATCHED THEN UPDATE SET title = v.title`);
    assert.deepEqual((await t.pool.query<{ id: string }>('SELECT id::text FROM embedsync.leads_changes ORDER BY id')).rows,
      [{ id: '1' }, { id: '3' }]);
    await t.pool.query('TRUNCATE embedsync.leads_changes');
    await t.pool.query(`UPDATE leads SET description = 'the same for all'`);
    const { rows: [n] } = await t.pool.query<{ n: number; ids: number; at: number }>(`SELECT count(*)::int AS n,
      count(DISTINCT id)::int AS ids, count(DISTINCT at)::int AS at FROM embedsync.leads_changes`);
    assert.deepEqual(n, { n: 100_000, ids: 100_000, at: 1 }, 'one entry per row, all with the statement\'s time');
  } finally {
    await t.close();
  }
});

test('both UPDATE functions log a change of case under a case-insensitive collation', async () => {
  await withDatabase('collation', {}, async ({ db, pool, encoder, config }) => {
    // `=` calls 'lead' and 'LEAD' equal here, but the document's text, and so its vector, differ.
    await pool.query(`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
      CREATE TABLE leads (id bigserial PRIMARY KEY, title text COLLATE ci, description text COLLATE ci)`);
    await pool.query(`INSERT INTO leads (title, description) VALUES ('lead', 'text')`);
    assert.equal((await pool.query(`SELECT 1 FROM leads WHERE title = 'LEAD'`)).rowCount, 1);
    for (const compiled of [false, true]) {
      if (compiled) await pool.query('CREATE EXTENSION embedsync_capture');
      assert.equal((await migrate({ db, config, encoder })).updateFunction, compiled ? 'compiled' : 'plpgsql');
      await pool.query('TRUNCATE embedsync.leads_changes');
      await pool.query(`UPDATE leads SET title = ${compiled ? 'lower' : 'upper'}(title), description = description`);
      assert.equal(await logged(pool), 1, compiled ? 'compiled' : 'PL/pgSQL');
      await pool.query('UPDATE leads SET title = title, description = description');
      assert.equal(await logged(pool), 1, `${compiled ? 'compiled' : 'PL/pgSQL'}: the same text again`);
    }
  });
});

test('the compose stack\'s order: deploy/postgres/20-embedsync-capture.sql on a new database, then migrate uses it', async () => {
  await withDatabase('compose', {}, async ({ db, pool, encoder, config }) => {
    // The postgres container's init scripts, in their order: the demo table, then the extension (before any migrate).
    await pool.query(readFileSync(new URL('../scripts/demo-leads.sql', import.meta.url), 'utf8'));
    await pool.query(readFileSync(new URL('../deploy/postgres/20-embedsync-capture.sql', import.meta.url), 'utf8'));
    assert.equal((await migrate({ db, config, encoder })).updateFunction, 'compiled');
    const id = (await pool.query<{ id: string }>('SELECT min(id)::text AS id FROM leads')).rows[0]!.id;
    await pool.query('TRUNCATE embedsync.leads_changes');
    await pool.query(`UPDATE leads SET title = title || ' (edited)' WHERE id = $1`, [id]);
    assert.equal(await logged(pool), 1);
  });
});
