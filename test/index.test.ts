// The ivfflat lifecycle: no index on a table too small to train, lists from the row count, a rebuild once
// the table has grown past the factor, HNSW and none as alternatives, and the index command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { createClient, createPool } from '../src/db/pool.ts';
import { inspectSource } from '../src/db/source-info.ts';
import {
  decideIndex, ensureIndex, getIndexStatus, ivfflatBuildBytes, ivfflatLists, listsWithin, DEFAULT_INDEX_POLICY,
} from '../src/db/vector-index.ts';
import { indexCommand } from '../src/cli/index-cmd.ts';
import type { CommandContext } from '../src/cli/context.ts';
import { createTestDatabase, LEADS_DDL } from './helpers/db.ts';

test('lists follow pgvector\'s guidance: rows/1000 up to 1M rows, sqrt(rows) above', () => {
  assert.equal(ivfflatLists(0), 1);
  assert.equal(ivfflatLists(5_000), 5);
  assert.equal(ivfflatLists(1_000_000), 1000);
  assert.equal(ivfflatLists(4_000_000), 2000);
  const p = { ...DEFAULT_INDEX_POLICY, minRows: 1000 };
  assert.equal(decideIndex(p, undefined, undefined, 0).action, 'wait', 'never on an empty table');
  assert.equal(decideIndex(p, undefined, undefined, 999).action, 'wait');
  assert.equal(decideIndex({ ...p, minRows: 10 }, undefined, undefined, 15).action, 'build', '>= 10 x lists');
  assert.equal(decideIndex({ ...p, kind: 'hnsw' }, undefined, undefined, 0).action, 'build', 'HNSW needs no training');
});

async function addVectors(db: pg.Pool, n: number): Promise<void> {
  // Random unit-ish vectors straight from SQL: the index lifecycle does not care where vectors come from.
  // The policy learns of writes through the statistics, which a session flushes within seconds of its
  // writes; this one flushes at once, as if those seconds had passed.
  const c = await db.connect();
  try {
    await c.query(
      `INSERT INTO leads (title, embedding, model_checksum)
       SELECT 'row ' || g, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) d WHERE d > g * 0)::vector, 'm'
       FROM generate_series(1, $1) g`, [n]);
    await c.query('SELECT pg_stat_force_next_flush()');
  } finally {
    c.release();
  }
}

function ctxFor(env: Record<string, string>, argv: string[]): { ctx: CommandContext; out: () => string } {
  let out = '';
  const ctx: CommandContext = {
    argv, env, config: () => loadConfig(env), stdout: { write: (s: string) => { out += s; return true; } }, stderr: { write: () => true },
    signal: new AbortController().signal, cores: 1, cwd: process.cwd(),
  };
  return { ctx, out: () => out };
}

test('ivfflat lists shrink to what the build memory holds: pgvector refuses a k-means over maintenance_work_mem', () => {
  // pgvector's own figure for 3,162 lists x 64 dimensions: "memory required is 1989 MB".
  const mb = ivfflatBuildBytes(3162, 64, 10_000_000) / 2 ** 20;
  assert.ok(mb > 1985 && mb < 1990, `${mb} MB`);
  const fitted = listsWithin(3162, 64, 10_000_000, 2 ** 30);
  assert.ok(fitted < 3162 && fitted > 2000, `fitted ${fitted}`);
  assert.ok(ivfflatBuildBytes(fitted, 64, 10_000_000) <= 2 ** 30);
  assert.equal(listsWithin(1000, 1024, 1_000_000, 512 * 2 ** 20), 1000, 'the default memory holds 1M rows at 1,024 dimensions');
  assert.equal(listsWithin(100, 64, 20, 2 ** 20), 100, 'few rows: samples are the rows');
});

test('ivfflat is built only with enough rows, with the computed lists, and rebuilt after 2x growth', async () => {
  const db = await createTestDatabase('index');
  const pool = createPool({ databaseUrl: db.url, max: 2 });
  const client = createClient({ databaseUrl: db.url });
  try {
    await pool.query(LEADS_DDL);
    await client.connect();
    const env = { DATABASE_URL: db.url };
    const config = loadConfig(env);
    await migrateSchema(client, config.source, { name: 'm', checksum: 'm', dimensions: 16 });
    const s = (await inspectSource(pool, config.source)).sql;
    const policy = { ...DEFAULT_INDEX_POLICY };
    const ensure = () => ensureIndex(client, s, 'embedding', policy, { dimensions: 16 });
    const lists = async () =>
      (await pool.query<{ o: string[] }>(`SELECT reloptions AS o FROM pg_class WHERE relname = 'leads_embedding_idx'`)).rows[0]?.o;

    assert.equal((await ensure()).action, 'wait', 'empty table: no index');
    await addVectors(pool, 900);
    const small = await ensure();
    assert.equal(small.action, 'wait');
    // 900 rows written since the count of 0: the range 0-900 keeps clear of 1,000, so no count was needed.
    assert.match(small.reason, /~450 \(estimated 0-900\) rows with vectors; ivfflat needs at least 1000/);
    assert.equal(await lists(), undefined);

    await addVectors(pool, 2100);
    const built = await ensure();
    assert.equal(built.action, 'build');
    assert.equal(built.lists, 3);
    assert.ok(built.buildSeconds! > 0);
    assert.deepEqual(await lists(), ['lists=3']);
    const rec = await pool.query('SELECT name, kind, lists, rows_at_build::int AS rows, dimensions FROM embedsync.vector_index');
    assert.deepEqual(rec.rows, [{ name: 'leads_embedding_idx', kind: 'ivfflat', lists: 3, rows: 3000, dimensions: 16 }]);

    await addVectors(pool, 2900); // 5,900 rows: 1.97x, within the factor
    assert.equal((await ensure()).action, 'keep');
    const { ctx, out } = ctxFor(env, ['status']);
    await indexCommand(ctx);
    assert.match(out(), /index +leads_embedding_idx ivfflat lists 3/);
    assert.match(out(), /next +keep: trained on 3000 rows, now 5900 \(1\.97x, limit 2x\)/);

    await addVectors(pool, 200); // 6,100 rows: past 2x
    const due = await getIndexStatus(pool, s, 'embedding', policy);
    assert.equal(due.decision.action, 'rebuild');
    assert.match(due.decision.reason, /drifted 2\.03x/);
    const reb = ctxFor(env, ['rebuild']);
    await indexCommand(reb.ctx);
    assert.match(reb.out(), /index leads_embedding_idx rebuilt on 6100 rows, lists 6 in [\d.]+s/);
    assert.deepEqual(await lists(), ['lists=6']);
    assert.equal((await getIndexStatus(pool, s, 'embedding', policy)).decision.action, 'keep');

    // Switching the kind rebuilds; none drops it.
    const hnsw = await ensureIndex(client, s, 'embedding', { ...policy, kind: 'hnsw' }, { dimensions: 16 });
    assert.equal(hnsw.action, 'rebuild');
    const am = await pool.query<{ am: string }>(
      `SELECT am.amname AS am FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'leads_embedding_idx'`);
    assert.deepEqual(am.rows, [{ am: 'hnsw' }]);
    assert.equal((await ensureIndex(client, s, 'embedding', { ...policy, kind: 'none' }, { dimensions: 16 })).action, 'drop');
    assert.equal((await pool.query(`SELECT 1 FROM pg_indexes WHERE tablename = 'leads' ` +
      `AND indexname NOT IN ('leads_pkey', 'leads_embedsync_stale', 'leads_embedsync_new', 'leads_embedsync_fulltext')`)).rowCount, 0);
  } finally {
    await client.end().catch(() => undefined);
    await pool.end();
    await db.drop();
  }
});

test('the daemon builds the index once the rows it embedded are enough to train it', async () => {
  const { setupMigrateDb } = await import('./helpers/migrate-db.ts');
  const { TINY_MODEL_DIR } = await import('./support/tiny-model-dir.ts');
  const t = await setupMigrateDb(150, { EMBEDSYNC_INDEX_MIN_ROWS: '100', EMBEDSYNC_SWEEP_INTERVAL_MS: '1000' });
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    const first = await t.migrate({ encoder: enc });
    assert.match(first.lines.join('\n'), /no index yet: 0 rows with vectors/);
    await t.startDaemon(enc);
    const deadline = Date.now() + 20_000;
    let rec: { name: string; rows: number; lists: number } | undefined;
    while (!rec && Date.now() < deadline) {
      rec = (await t.pool.query('SELECT name, rows_at_build::int AS rows, lists FROM embedsync.vector_index')).rows[0];
      if (!rec) await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(rec, { name: 'leads_embedding_idx', rows: 150, lists: 1 });
    const valid = await t.pool.query(
      `SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'leads_embedding_idx' AND i.indisvalid`);
    assert.equal(valid.rowCount, 1);
  } finally {
    await t.close();
  }
});
