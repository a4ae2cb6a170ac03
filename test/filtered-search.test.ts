// Filtered vector search (docs/search.md): with a selective WHERE on another column, a plain ivfflat or hnsw index
// scan returns fewer than k rows (the filter runs on the index's candidates only); pgvector 0.8's iterative scans
// (ivfflat.iterative_scan, hnsw.iterative_scan) keep scanning until k rows pass. Recall against the exact answer
// is reported as a diagnostic (the figures in docs/search.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { setupMigrateDb } from './helpers/migrate-db.ts';
import { FULL_SUITE_ONLY } from './helpers/tier.ts';

const ROWS = 20_000;
const K = 10;
// One row in 200 is in the rare city: 100 rows, 0.5 % of the table.
const RARE = 'Верхоянск';

// The written-out filtered query of docs/search.md, with the model check.
const FILTERED = `
  SELECT id::text AS id FROM leads
  WHERE city = $2 AND model_checksum = (SELECT model_checksum FROM embedsync.state WHERE source = 'public.leads')
  ORDER BY embedding <=> $1::vector
  LIMIT ${K}`;

function queryVector(seed: number): string {
  return `[${Array.from({ length: 64 }, (_, i) => Math.sin(seed * 7.1 + i * 1.3).toFixed(4)).join(',')}]`;
}

async function run(c: pg.PoolClient, settings: readonly string[], q: string): Promise<string[]> {
  await c.query('BEGIN');
  try {
    for (const s of settings) await c.query(`SET LOCAL ${s}`);
    return (await c.query<{ id: string }>(FILTERED, [q, RARE])).rows.map((r) => r.id);
  } finally {
    await c.query('COMMIT');
  }
}

test('a selective filter: plain index scans return fewer than k rows, iterative scans return k', FULL_SUITE_ONLY, async (t) => {
  const db = await setupMigrateDb(0);
  try {
    const enc = await db.encoder(TINY_MODEL_DIR);
    await db.migrate({ encoder: enc });
    // Clustered like embeddings are (random points around 199 centres), not uniform noise, which no ivfflat
    // partition can serve; the rare city's rows are spread over the clusters.
    await db.pool.query(
      `WITH centre AS (SELECT k, array_agg(random() - 0.5) AS v FROM generate_series(0, 198) k, generate_series(1, 64) d GROUP BY k)
       INSERT INTO leads (title, city, embedding, model_checksum)
       SELECT 'row ' || g, CASE WHEN g % 200 = 0 THEN '${RARE}' ELSE (ARRAY['Москва', 'Казань', 'Сочи'])[1 + g % 3] END,
              (SELECT array_agg(c.v[d] + (random() - 0.5) * 0.5) FROM generate_series(1, 64) d)::vector, $1
       FROM generate_series(1, ${ROWS}) g JOIN centre c ON c.k = g % 199`, [enc.info.checksum]);
    await db.pool.query('ANALYZE leads');
    const c = await db.pool.connect();
    try {
      // The index path, as the planner takes it for a less selective filter or a larger table.
      await c.query('SET enable_seqscan = off');
      const queries = [1, 2, 3, 4, 5].map(queryVector);
      const exact = async (q: string) => run(c, ['enable_indexscan = off', 'enable_bitmapscan = off', 'enable_seqscan = on'], q);
      const truth: Set<string>[] = [];
      for (const q of queries) truth.push(new Set(await exact(q)));
      for (const want of truth) assert.equal(want.size, K);
      const measure = async (settings: readonly string[]) => {
        const got = [];
        for (const q of queries) got.push(await run(c, settings, q));
        const recall = got.reduce((sum, ids, i) => sum + ids.filter((id) => truth[i]!.has(id)).length, 0) / (K * queries.length);
        return { rows: got.map((ids) => ids.length), recall };
      };

      for (const kind of ['ivfflat', 'hnsw'] as const) {
        // Another index kind is a settings change: made on purpose.
        const out = await db.migrate({ encoder: enc, env: { EMBEDSYNC_INDEX: kind }, updateSettings: true });
        assert.match(out.lines.join('\n'), new RegExp(`index leads_embedding_idx (re)?built on ${ROWS} rows`));
        const plan = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${FILTERED}`, [queries[0], RARE]))
          .rows.map((r) => r['QUERY PLAN']).join('\n');
        assert.match(plan, /Index Scan using leads_embedding_idx/, plan);
        const base = kind === 'ivfflat' ? ['ivfflat.probes = 1'] : ['hnsw.ef_search = 40'];
        const plain = await measure(base);
        // pgvector's defaults: one list (~1,000 rows, ~5 of them in the city) or 40 candidates (none, mostly). The lists
        // come from a k-means on a random sample, so now and then one holds 10 of the city: most queries fall short.
        assert.ok(plain.rows.filter((n) => n < K).length >= 3, `${kind} plain: ${plain.rows.join(',')}`);
        const iterative = await measure([...base, `${kind}.iterative_scan = relaxed_order`]);
        assert.deepEqual(iterative.rows, queries.map(() => K), `${kind} iterative: k rows every time`);
        const strict = kind === 'hnsw' ? await measure([...base, 'hnsw.iterative_scan = strict_order']) : undefined;
        const wider = await measure(kind === 'ivfflat'
          ? ['ivfflat.probes = 10', 'ivfflat.iterative_scan = relaxed_order']
          : ['hnsw.ef_search = 200', 'hnsw.iterative_scan = relaxed_order']);
        assert.ok(wider.recall >= iterative.recall - 0.1, `${kind}: more candidates per step find at least as much`);
        t.diagnostic(`${kind}: plain rows ${plain.rows.join('/')} recall@10 ${plain.recall.toFixed(2)}; relaxed_order rows ` +
          `${iterative.rows.join('/')} recall@10 ${iterative.recall.toFixed(2)}` +
          (strict ? `; strict_order recall@10 ${strict.recall.toFixed(2)}` : '') +
          `; ${kind === 'ivfflat' ? 'probes 10 (of 20 lists)' : 'ef_search 200'} + relaxed_order recall@10 ${wider.recall.toFixed(2)}`);
      }
    } finally {
      c.release();
    }
  } finally {
    await db.close();
  }
});
