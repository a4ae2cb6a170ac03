// A partitioned source table (hash-partitioned by its id): the triggers on the parent see rows of every
// partition, the daemon embeds them, search and the vector index work, and so do the sweeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config/index.ts';
import { remove } from '../src/cli/remove.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { createClient, createPool } from '../src/db/pool.ts';
import { inspectSource } from '../src/db/source-info.ts';
import { installSearchFunctions } from '../src/db/search-functions.ts';
import { ensureIndex, DEFAULT_INDEX_POLICY } from '../src/db/vector-index.ts';
import { createLogger } from '../src/log/index.ts';
import { startSyncDaemon } from '../src/sync/daemon.ts';
import { createTestDatabase } from './helpers/db.ts';
import { doctorCheck, PLPGSQL_UPDATES_AVAILABLE } from './helpers/doctor.ts';
import { createTestEncoder, idInAnotherPartition, TEST_ENV, waitFor } from './helpers/sync.ts';

const PARTITIONED = `
CREATE TABLE leads (id bigserial PRIMARY KEY, title text, description text, city text, price numeric,
  status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now()) PARTITION BY HASH (id);
CREATE TABLE leads_p0 PARTITION OF leads FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE leads_p1 PARTITION OF leads FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE leads_p2 PARTITION OF leads FOR VALUES WITH (MODULUS 3, REMAINDER 2);`;

test('a hash-partitioned table: triggers, daemon, sweeps, search and the vector index', { timeout: 120_000 }, async () => {
  const db = await createTestDatabase('part');
  const pool = createPool({ databaseUrl: db.url, max: 6 });
  const encoder = await createTestEncoder();
  const config = loadConfig({ ...TEST_ENV, EMBEDSYNC_SWEEP_INTERVAL_MS: '3600000', DATABASE_URL: db.url });
  try {
    await pool.query(PARTITIONED);
    await pool.query(`INSERT INTO leads (title, description) SELECT 'old ' || g, 'row ' || g FROM generate_series(1, 30) g`);
    const c = createClient({ databaseUrl: db.url });
    await c.connect();
    try {
      const r = await migrateSchema(c, config.source, encoder.info);
      assert.deepEqual(r.warnings, []);
    } finally {
      await c.end();
    }
    const s = (await inspectSource(pool, config.source)).sql;
    await installSearchFunctions(pool, s);
    // The sweep's partial index exists on every partition.
    const parts = (await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_indexes WHERE indexname LIKE 'leads_p%' AND indexdef LIKE '%IS DISTINCT FROM%'`)).rows[0]!.n;
    assert.equal(parts, 3);

    const daemon = await startSyncDaemon({ pool, encoder, source: config.source, sync: config.sync, logger: createLogger('silent'),
      connectListener: () => createClient({ databaseUrl: db.url }) });
    try {
      // The rows from before migrate come through the cheap pass (no trigger saw them).
      const step = await daemon.sweeper.step('changed');
      assert.equal(step.enqueued, 30);
      const embedded = async () => (await pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM leads WHERE embedding IS NOT NULL AND model_checksum = $1', [encoder.info.checksum])).rows[0]!.n;
      await waitFor('30 rows embedded', async () => (await embedded()) === 30, 10_000);
      // Inserts and text updates through the parent fire its statement triggers, whichever partition the rows land in.
      await pool.query(`INSERT INTO leads (title, description) SELECT 'new ' || g, 'row ' || g FROM generate_series(1, 12) g`);
      await waitFor('42 rows embedded', async () => (await embedded()) === 42, 10_000);
      const before = (await pool.query<{ e: string }>('SELECT embedding::text AS e FROM leads WHERE id = 5')).rows[0]!.e;
      await pool.query(`UPDATE leads SET title = 'changed' WHERE id = 5`);
      await waitFor('re-embedded',
        async () => (await pool.query<{ e: string }>('SELECT embedding::text AS e FROM leads WHERE id = 5')).rows[0]!.e !== before, 10_000);
      // An UPDATE that moves a row to another partition (a new id: the id is the key) and changes its text runs as a
      // DELETE and an INSERT, which fire no UPDATE trigger; the row arrives with its embedded_at and is logged.
      const moved = await idInAnotherPartition(pool, 6, 3);
      await pool.query(`UPDATE leads SET id = $1, title = 'moved' WHERE id = 6`, [moved]);
      const synced = async () => (await pool.query<{ ok: boolean }>(
        `SELECT embedding_text_hash = md5('moved. row 6')::uuid AS ok FROM leads WHERE id = $1`, [moved])).rows[0]?.ok === true;
      await waitFor('the moved row re-embedded with its new text', synced, 10_000);
      // doctor counts the move trigger among the table's own.
      assert.deepEqual(await doctorCheck(config, 'triggers'), {
        ok: true, name: 'triggers',
        found: `4 embedsync triggers enabled on "public"."leads" (inserts: the daemons' watch, no INSERT trigger)` +
          PLPGSQL_UPDATES_AVAILABLE,
      });
      // ... and remove would take it and its function (its own: the UPDATE trigger's compares OLD with NEW).
      const plan = await remove({ config, dryRun: true, dropColumns: false });
      assert.deepEqual([plan.triggers.includes('leads_mov'), plan.functions.includes('leads_mov')], [true, true]);
      // A partition written with its triggers off is found by the verification pass.
      await pool.query('ALTER TABLE leads DISABLE TRIGGER USER');
      await pool.query(`UPDATE leads SET description = 'quiet' WHERE id IN (7, 8, 9)`);
      await pool.query('ALTER TABLE leads ENABLE TRIGGER USER');
      let found = 0;
      for (;;) {
        await pool.query(`UPDATE embedsync.sweep SET due_at = now() WHERE pass = 'verify'`);
        const v = await daemon.sweeper.step('verify');
        found += v.enqueued;
        if (v.finished) break;
      }
      assert.equal(found, 3);
    } finally {
      await daemon.stop();
    }

    // The vector index on a partitioned table (per partition, attached to the parent's), and search through it.
    const client = await pool.connect();
    try {
      const built = await ensureIndex(client, s, 'embedding', { ...DEFAULT_INDEX_POLICY, minRows: 10 },
        { dimensions: encoder.info.dimensions });
      assert.equal(built.action, 'build');
      const valid = (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'ivfflat' AND i.indisvalid`)).rows[0]!.n;
      assert.equal(valid, 4, 'the parent index and one per partition, all valid');
      const rebuilt = await ensureIndex(client, s, 'embedding', { ...DEFAULT_INDEX_POLICY, minRows: 10 },
        { dimensions: encoder.info.dimensions, force: true });
      assert.equal(rebuilt.action, 'rebuild');
      // Twice: the partitions' indexes of one build never collide with the next's.
      assert.equal((await ensureIndex(client, s, 'embedding', { ...DEFAULT_INDEX_POLICY, minRows: 10 },
        { dimensions: encoder.info.dimensions, force: true })).action, 'rebuild');
      const all = (await client.query<{ n: number; valid: number }>(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE i.indisvalid)::int AS valid
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'ivfflat'`)).rows[0]!;
      assert.deepEqual(all, { n: 4, valid: 4 }, 'the old build is gone, partitions included');
    } finally {
      client.release();
    }
    const q = (await encoder.encode(['changed. row 5'], 'document')).vectors[0]!;
    // In a read-only transaction, as on a read replica: search writes nothing.
    const rc = await pool.connect();
    try {
      await rc.query('BEGIN READ ONLY');
      const hits = await rc.query<{ id: string; score: number }>(`SELECT id::text, score FROM embedsync.leads_search($1::vector, 3)`,
        [`[${Array.from(q).join(',')}]`]);
      await rc.query('COMMIT');
      assert.equal(hits.rows[0]!.id, '5');
      assert.ok(hits.rows[0]!.score > 0.999);
      // 14 rows a partition: the planner would rather scan them; with scans off, the index path must exist.
      await rc.query('SET enable_seqscan = off');
      const plan = (await rc.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT id FROM embedsync.leads_search($1::vector, 3)`,
        [`[${Array.from(q).join(',')}]`])).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.equal(plan.match(/Index Scan using leads_embedding_idx_\w+_p\d on leads_p\d/g)?.length, 3,
        'each partition\'s ivfflat index serves the search');
    } finally {
      rc.release();
    }
  } finally {
    await pool.end();
    await encoder.close();
    await db.drop();
  }
});
