// EMBEDSYNC_VECTOR_TYPE=halfvec: a table migrates, syncs, is indexed (halfvec_cosine_ops) and searched in half
// precision, changes model through the shadow migration, and an existing vector table switches to halfvec (and
// back) through the shadow migration with its vectors copied, not encoded, while searches keep answering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { setupMigrateDb } from './helpers/migrate-db.ts';
import { modelVariantsForTests } from './helpers/model-variants.ts';

const variants = modelVariantsForTests({ sibling: { hidden: 64, seed: 8 } });
const HALF = { EMBEDSYNC_VECTOR_TYPE: 'halfvec' } as const;

async function columnType(pool: import('pg').Pool, column: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ t: string }>(
    `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute ` +
    `WHERE attrelid = 'leads'::regclass AND attname = $1 AND NOT attisdropped`, [column]);
  return rows[0]?.t;
}

async function indexDef(pool: import('pg').Pool): Promise<string> {
  const { rows } = await pool.query<{ d: string }>(`SELECT pg_get_indexdef('leads_embedding_idx'::regclass) AS d`);
  return rows[0]!.d;
}

test('halfvec: migrate, sync, index, search and a model change, all in half precision', async () => {
  const t = await setupMigrateDb(1500, HALF);
  try {
    const a = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: a });
    assert.equal(await columnType(t.pool, 'embedding'), 'halfvec(64)');
    await t.embedAll(a);
    const out = await t.migrate({ encoder: a });
    assert.match(out.lines.join('\n'), /index leads_embedding_idx built on 1500 rows/);
    assert.match(await indexDef(t.pool), /USING ivfflat \(embedding halfvec_cosine_ops\)/);

    const qv = (await a.encode(['квартира у метро'], 'query')).vectors[0]!;
    const q = `[${qv.join(',')}]`;
    const c = await t.pool.connect();
    try {
      // 1,500 rows: the planner would rather sort them all; without that choice the halfvec index serves the query.
      await c.query('SET enable_seqscan = off');
      const plan = (await c.query<{ 'QUERY PLAN': string }>('EXPLAIN (COSTS OFF) SELECT * FROM embedsync.search($1::vector, 10)', [q]))
        .rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(plan, /Index Scan using leads_embedding_idx/, plan);
      await c.query('RESET enable_seqscan');
      await c.query('SET ivfflat.probes = 100');
      const hits = (await c.query<{ id: string; score: number }>('SELECT id::text, score FROM embedsync.search($1::vector, 10)', [q])).rows;
      const exact = (await c.query<{ id: string; score: number }>(
        `SELECT id::text, 1 - (embedding <=> $1::vector::halfvec) AS score FROM leads ORDER BY embedding <=> $1::vector::halfvec LIMIT 10`,
        [q])).rows;
      // The index (one list, every probe) holds the rows re-normalized in half precision: its order may swap
      // neighbours whose scores differ in the fifth digit, never more.
      assert.ok(hits.filter((h) => exact.some((e) => e.id === h.id)).length >= 9, `${JSON.stringify(hits)} / ${JSON.stringify(exact)}`);
      hits.forEach((h, i) => assert.ok(Math.abs(h.score - exact[i]!.score) < 1e-4));
      // Half precision: the scores are the full-precision ones to about three digits.
      const full = (await c.query<{ id: string; score: number }>(
        `SELECT id::text, 1 - (embedding::vector <=> $1::vector) AS score FROM leads WHERE id = ANY($2::bigint[])`,
        [q, hits.map((h) => h.id)])).rows;
      for (const h of hits) assert.ok(Math.abs(h.score - full.find((f) => f.id === h.id)!.score) < 2e-3);
      const hybrid = await c.query('SELECT * FROM embedsync.hybrid_search($1, $2::vector, 5)', ['квартира', q]);
      assert.equal(hybrid.rowCount, 5);
    } finally {
      c.release();
    }

    // A model change: the shadow columns are halfvec too, the index on them halfvec_cosine_ops.
    const b = await t.encoder(variants.sibling);
    const r = await t.migrate({ encoder: b, env: HALF });
    assert.ok(r.handled, r.lines.join('\n'));
    assert.equal(await columnType(t.pool, 'embedding'), 'halfvec(64)');
    assert.match(await indexDef(t.pool), /halfvec_cosine_ops/);
    const stale = await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM leads WHERE model_checksum IS DISTINCT FROM $1',
      [b.info.checksum]);
    assert.equal(stale.rows[0]!.n, 0);
    assert.equal((await t.pool.query('SELECT * FROM embedsync.search($1::vector, 5)',
      [`[${(await b.encode(['дом'], 'query')).vectors[0]!.join(',')}]`])).rowCount, 5);
  } finally {
    await t.close();
  }
});

test('an existing vector table switches to halfvec and back through the shadow migration, ' +
  'copying its vectors while search answers', async () => {
  const t = await setupMigrateDb(1500);
  try {
    const a = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: a });
    await t.embedAll(a);
    await t.migrate({ encoder: a });
    assert.equal(await columnType(t.pool, 'embedding'), 'vector(64)');
    const q = `[${(await a.encode(['квартира у метро'], 'query')).vectors[0]!.join(',')}]`;
    const before = (await t.pool.query<{ id: string }>('SELECT id::text FROM embedsync.search($1::vector, 10)', [q])).rows.map((r) => r.id);

    // Searches run all along the migration and must all answer.
    let searching = true;
    let searches = 0;
    const failures: string[] = [];
    const loop = (async () => {
      while (searching) {
        try {
          const r = await t.pool.query('SELECT * FROM embedsync.search($1::vector, 10)', [q]);
          if (r.rowCount !== 10) failures.push(`${r.rowCount} rows`);
          await t.pool.query('SELECT * FROM embedsync.hybrid_search($1, $2::vector, 10)', ['квартира', q]);
          searches++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();

    const plan = await t.migrate({ encoder: a, env: HALF, dryRun: true });
    assert.match(plan.lines.join('\n'), /vector type vector -> halfvec, model unchanged, shadow migration/);
    const r = await t.migrate({ encoder: a, env: HALF });
    assert.ok(r.handled);
    assert.match(r.lines.join('\n'),
      /vector -> halfvec \(64 dimensions, model \S+ unchanged; 1500 vectors copied\), shadow columns swapped in/);
    assert.equal(r.shadow!.encoded, 0, 'nothing encoded again');
    assert.equal(await columnType(t.pool, 'embedding'), 'halfvec(64)');
    assert.equal(await columnType(t.pool, 'embedding_next'), undefined);
    assert.match(await indexDef(t.pool), /halfvec_cosine_ops/);
    // --in-place cannot switch the type; a second migrate has nothing to do.
    await assert.rejects(t.migrate({ encoder: a, env: { EMBEDSYNC_VECTOR_TYPE: 'vector' }, inPlace: true }), /runs as a shadow migration/);
    assert.equal((await t.migrate({ encoder: a, env: HALF })).handled, false);

    // Rows written after the switch land in halfvec, and the daemon embeds them.
    await t.pool.query(`INSERT INTO leads (title, description) VALUES ('Склад у трассы', 'KZ-5531')`);
    await t.embedAll(a, HALF);
    const after = (await t.pool.query<{ id: string }>('SELECT id::text FROM embedsync.search($1::vector, 10)', [q])).rows.map((r) => r.id);
    assert.ok(after.filter((id) => before.includes(id)).length >= 8,
      `the same neighbours in half precision: ${before.join(',')} / ${after.join(',')}`);

    // And back to full precision.
    const back = await t.migrate({ encoder: a });
    assert.match(back.lines.join('\n'), /halfvec -> vector .*1501 vectors copied/);
    assert.equal(await columnType(t.pool, 'embedding'), 'vector(64)');
    assert.match(await indexDef(t.pool), /vector_cosine_ops/);
    searching = false;
    await loop;
    assert.deepEqual(failures, [], 'every search during the switches answered');
    assert.ok(searches > 5, `${searches} searches ran during the switches`);
  } finally {
    await t.close();
  }
});
