// A big table costs nothing while the daemon idles: the index policy decides from the planner's statistics
// and the stored count (counting only when a threshold is in doubt, once), status estimates a large table's
// coverage, and an idle daemon over a populated table never scans it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { createClient, createPool } from '../src/db/pool.ts';
import { inspectSource } from '../src/db/source-info.ts';
import {
  decideIndex, ensureIndex, getIndexStatus, rangeDecides, DEFAULT_INDEX_POLICY, type ExistingIndex, type IndexPolicy, type IndexRecord,
} from '../src/db/vector-index.ts';
import { getSyncStatus } from '../src/sync/status.ts';
import { formatStatus } from '../src/cli/status.ts';
import { startSyncDaemon } from '../src/sync/daemon.ts';
import { createLogger } from '../src/log/index.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { createTestDatabase, LEADS_DDL } from './helpers/db.ts';
import { setupMigrateDb } from './helpers/migrate-db.ts';
import { waitFor } from './helpers/sync.ts';

test('a range with no threshold inside gets one decision throughout; one with a threshold inside does not decide', () => {
  let seed = 7;
  const rnd = () => { seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31; return seed / 2 ** 31; };
  const kinds = ['ivfflat', 'hnsw', 'none'] as const;
  let decided = 0;
  for (let i = 0; i < 20_000; i++) {
    const policy: IndexPolicy = {
      ...DEFAULT_INDEX_POLICY, kind: kinds[Math.floor(rnd() * 3)]!, minRows: Math.floor(rnd() * 5000), growthFactor: 1.2 + rnd() * 3,
    };
    const existing: ExistingIndex | undefined = rnd() < 0.3 ? undefined
      : { name: 'leads_embedding_idx', kind: rnd() < 0.8 ? 'ivfflat' : 'hnsw', valid: true, lists: Math.ceil(rnd() * 50) };
    const record: IndexRecord | undefined = existing && rnd() < 0.7
      ? {
        name: existing.name, kind: existing.kind, lists: 1, dimensions: 16, rowsAtBuild: Math.floor(rnd() * 200_000), buildSeconds: 1,
        builtAt: new Date(),
      }
      : undefined;
    const lo = Math.floor(rnd() ** 2 * 400_000);
    const hi = lo + Math.floor(rnd() ** 3 * 100_000);
    const range = { lo, hi, rows: Math.round((lo + hi) / 2), basis: 'statistics' as const };
    const actions = [lo, hi, range.rows, lo + Math.floor(rnd() * (hi - lo + 1))]
      .map((r) => decideIndex(policy, existing, record, r).action);
    if (rangeDecides(policy, existing, record, range)) {
      decided++;
      assert.equal(new Set(actions).size, 1, `one decision over ${lo}-${hi}: ${actions.join(', ')}`);
    }
  }
  assert.ok(decided > 10_000, `most random ranges decide (${decided})`);
  const ivf = { ...DEFAULT_INDEX_POLICY, minRows: 1000 };
  assert.equal(rangeDecides(ivf, undefined, undefined, { lo: 900, hi: 1100, rows: 1000, basis: 'statistics' }), false,
    '1,000 rows to train is in 900-1,100');
  assert.equal(rangeDecides(ivf, undefined, undefined, { lo: 0, hi: 0, rows: 0, basis: 'unknown' }), false, 'nothing known: count');
  assert.equal(rangeDecides({ ...ivf, kind: 'none' }, undefined, undefined, { lo: 0, hi: 0, rows: 0, basis: 'unknown' }), true,
    'no index wanted: rows do not matter');
});

/** seq_scan of leads, after this session's own statistics are flushed (the flush happens as it goes idle). */
async function seqScans(c: pg.Client | pg.PoolClient): Promise<number> {
  await c.query('SELECT pg_stat_force_next_flush()');
  return Number((await c.query<{ n: string }>(`SELECT seq_scan AS n FROM pg_stat_user_tables WHERE relname = 'leads'`)).rows[0]!.n);
}

test('on a populated table the index policy and status read statistics; ' +
  'the table is counted once when a threshold is in doubt', async () => {
  const db = await createTestDatabase('idlecost');
  const c = createClient({ databaseUrl: db.url });
  try {
    await c.connect();
    await c.query(LEADS_DDL);
    const config = loadConfig({ DATABASE_URL: db.url });
    await migrateSchema(c, config.source, { name: 'm', checksum: 'm', dimensions: 16 });
    const s = (await inspectSource(c, config.source)).sql;
    // 40,000 rows with vectors of model m, 2,000 without any: past status's small-table size (8 MB).
    await c.query(`INSERT INTO leads (title, description, embedding, model_checksum)
      SELECT 'row ' || g, repeat('long description ', 12),
        (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) d WHERE d > g * 0)::vector, 'm'
      FROM generate_series(1, 40000) g`);
    await c.query(`INSERT INTO leads (title, description) SELECT 'new ' || g, repeat('long description ', 12) ` +
      'FROM generate_series(1, 2000) g');
    // Statistics of these writes reach the shared counters when the session flushes them (within seconds).
    await c.query('SELECT pg_stat_force_next_flush()');
    await c.query('ANALYZE leads');
    const policy = { ...DEFAULT_INDEX_POLICY };

    // A build counts (its lists and recorded rows are exact); the decisions after it read the statistics.
    const built = await ensureIndex(c, s, 'embedding', policy, { dimensions: 16 });
    assert.deepEqual([built.action, built.rows, built.lists], ['build', 40000, 40]);
    const afterBuild = await seqScans(c);
    for (let i = 0; i < 5; i++) {
      const st = await getIndexStatus(c, s, 'embedding', policy);
      assert.equal(st.decision.action, 'keep');
      assert.notEqual(st.rowsRange.basis, 'count');
    }
    assert.equal(await seqScans(c), afterBuild, 'five keep decisions without a scan of the table');

    // 39,000 more rows: the range now reaches 80,000 (2x the training rows), so the policy counts, once.
    await c.query(`INSERT INTO leads (title, embedding, model_checksum)
      SELECT 'more ' || g, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) d WHERE d > g * 0)::vector, 'm'
      FROM generate_series(1, 39000) g`);
    await c.query('SELECT pg_stat_force_next_flush()');
    const near = await getIndexStatus(c, s, 'embedding', policy);
    assert.deepEqual([near.rowsRange.basis, near.rows, near.decision.action], ['count', 79000, 'keep']);
    const counted = await seqScans(c);
    assert.equal(counted, afterBuild + 1, 'one count');
    for (let i = 0; i < 3; i++) assert.equal((await getIndexStatus(c, s, 'embedding', policy)).rowsRange.basis, 'stored count');
    assert.equal(await seqScans(c), counted, 'and not again while nothing is written');
    // 2,000 more: past 80,000, rebuilt on an exact count.
    await c.query(`INSERT INTO leads (title, embedding, model_checksum)
      SELECT 'last ' || g, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) d WHERE d > g * 0)::vector, 'm'
      FROM generate_series(1, 2000) g`);
    await c.query('SELECT pg_stat_force_next_flush()');
    const rebuilt = await ensureIndex(c, s, 'embedding', policy, { dimensions: 16 });
    assert.deepEqual([rebuilt.action, rebuilt.rows, rebuilt.lists], ['rebuild', 81000, 81]);

    // status: estimates from the statistics, in a few statements of the catalog; --exact counts. A queue of
    // 60,000 entries (as a backfill leaves) is estimated too; its leased rows are still counted.
    await c.query('DELETE FROM embedsync.queue');
    await c.query(`INSERT INTO embedsync.queue (source, id) SELECT $1, l.id::text FROM leads l ORDER BY l.id LIMIT 60000`, [s.sourceKey]);
    await c.query(`UPDATE embedsync.queue SET lease_owner = 'd1', next_attempt_at = now() + interval '1 minute' WHERE id::bigint <= 25`);
    await c.query('SELECT pg_stat_force_next_flush()');
    await c.query('ANALYZE leads');
    await c.query('ANALYZE embedsync.queue');
    const before = await seqScans(c);
    const est = await getSyncStatus(c, config.source);
    assert.equal(await seqScans(c), before, 'status without a scan');
    assert.equal(est.rows.estimated, true);
    assert.ok(Math.abs(est.rows.total - 83000) < 83000 * 0.05, `total ~83,000: ${est.rows.total}`);
    assert.ok(Math.abs(est.rows.current! - 81000) < 83000 * 0.05, `current ~81,000: ${est.rows.current}`);
    assert.ok(Math.abs(est.rows.missing! - 2000) < 83000 * 0.05, `missing ~2,000: ${est.rows.missing}`);
    assert.match(formatStatus(est),
      /rows +~\d+ total: ~\d+ current, ~\d+ stale, ~\d+ missing, ~\d+ blank \(estimated from the table's statistics/);
    assert.equal(est.queue.estimated, true);
    assert.ok(Math.abs(est.queue.queued - 60000) < 3000, `queued ~60,000: ${est.queue.queued}`);
    assert.equal(est.queue.leased, 25);
    assert.match(formatStatus(est), /queue +~\d+ queued \(estimated from the statistics\), 25 leased/);
    const exact = await getSyncStatus(c, config.source, { exact: true });
    assert.deepEqual(exact.rows, { total: 83000, current: 81000, stale: 0, missing: 2000, blank: 0, estimated: false });
    assert.deepEqual([exact.queue.queued, exact.queue.leased, exact.queue.estimated], [60000, 25, false]);

    // The column dropped and added again (an in-place model change) is another column: its stored count is void.
    await c.query('ALTER TABLE leads DROP COLUMN embedding');
    await c.query('ALTER TABLE leads ADD COLUMN embedding vector(16)');
    const fresh = await getIndexStatus(c, s, 'embedding', policy);
    assert.deepEqual([fresh.rowsRange.basis, fresh.rows, fresh.decision.action], ['count', 0, 'wait']);
    assert.ok(await seqScans(c) > before, '--exact counts');
  } finally {
    await c.end().catch(() => undefined);
    await db.drop();
  }
});

test('an idle daemon over a populated, indexed table runs no sequential scan of it', async () => {
  const env = { EMBEDSYNC_INDEX_MIN_ROWS: '100', EMBEDSYNC_SWEEP_INTERVAL_MS: '1000', EMBEDSYNC_VERIFY_PERIOD_HOURS: '1000' };
  const t = await setupMigrateDb(2000, env);
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: enc });
    await t.embedAll(enc);
    const cfg = t.config(TINY_MODEL_DIR);
    // Every session of the pool flushes the statistics of its writes (as it does within seconds), so the
    // index policy below and the window after it start from settled figures.
    const held = await Promise.all(Array.from({ length: 6 }, () => t.pool.connect()));
    for (const h of held) await h.query('SELECT pg_stat_force_next_flush()');
    for (const h of held) h.release();
    const c = await t.pool.connect();
    try {
      const s = (await inspectSource(c, cfg.source)).sql;
      // The index as the daemons leave it: built on the embedded rows (a count), then recounted at most once.
      await ensureIndex(c, s, cfg.source.embeddingColumn, { ...DEFAULT_INDEX_POLICY, minRows: 100 }, { dimensions: enc.info.dimensions });
      const st = await getIndexStatus(c, s, cfg.source.embeddingColumn, { ...DEFAULT_INDEX_POLICY, minRows: 100 });
      assert.equal(st.decision.action, 'keep');
      assert.ok(st.index, 'an index exists');
      await c.query('SELECT pg_stat_force_next_flush()');
    } finally {
      c.release();
    }

    // The idle daemon on a pool of its own: ended after the window, so its sessions flush what they did.
    const pool = createPool({ databaseUrl: t.db.url, max: 4 });
    const stats = async () => (await t.pool.query<{ seq: string; changed: Date; counts: string }>(
      `SELECT (SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'leads') AS seq,
              (SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables
                WHERE relid = 'embedsync.vector_count'::regclass) AS counts,
              (SELECT last_finished_at FROM embedsync.sweep WHERE pass = 'changed') AS changed`)).rows[0]!;
    const before = await stats();
    const daemon = await startSyncDaemon({
      pool, encoder: enc, source: cfg.source, sync: cfg.sync, logger: createLogger('silent'),
      connectListener: () => createClient({ databaseUrl: t.db.url, applicationName: 'embedsync-listener' }),
    });
    await new Promise((r) => setTimeout(r, 6000));
    await daemon.stop();
    await pool.end();
    const after = await waitFor('the daemon\'s statistics', async () => {
      const a = await stats();
      return Number(a.counts) > Number(before.counts) ? a : undefined;
    }, 5000, 100);
    assert.ok(after.changed > before.changed, 'the cheap pass ran in the window');
    // (waitFor above: the index policy read the stored count in the window, so it did decide without a scan.)
    assert.equal(Number(after.seq), Number(before.seq), 'no sequential scan of leads while idle');
    const queued = (await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.queue')).rows[0]!.n;
    assert.equal(queued, 0, 'idle: nothing to do');
  } finally {
    await t.close();
  }
});
