// The chunk table's approximate index: migrate builds an hnsw index per model (partial on its checksum, over
// embedding::vector(N)), the chunk search functions are rendered so the planner uses it (EXPLAIN), their answers
// match exact search on a small table, a dimension change builds the new model's index before the swap and the
// prune drops the old one, and EMBEDSYNC_INDEX=none keeps chunk search exact with no index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { pruneChunks } from '../src/db/chunk-table.ts';
import { chunkIndexName } from '../src/db/chunk-index.ts';
import { sourceSql } from '../src/db/source-sql.ts';
import { setupMigrateDb } from './helpers/migrate-db.ts';
import { modelVariantsForTests } from './helpers/model-variants.ts';
import { CHUNKED, insertLead, longText, vec } from './helpers/chunks.ts';
import type { Encoder } from '../src/encoder/index.ts';

const variants = modelVariantsForTests({ small: { hidden: 48, seed: 7 } });
const QUERIES = ['warehouse delivery contract', 'квартира у метро', 'client meeting price', 'доставка склад договор',
  'quiet office downtown', 'Sentence 31 says'];

interface ChunkIndex { readonly name: string; readonly def: string }

async function chunkIndexes(db: pg.Pool): Promise<ChunkIndex[]> {
  return (await db.query<ChunkIndex>(
    "SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = 'embedsync' AND tablename = 'leads_chunks' " +
    "AND indexdef LIKE '%hnsw%' ORDER BY 1")).rows;
}

/** The plan of `sql` with sequential scans priced out (the table is tiny), in a transaction of its own. */
async function plan(db: pg.Pool, sql: string, params: unknown[]): Promise<string> {
  const c = await db.connect();
  try {
    await c.query('BEGIN');
    await c.query('SET LOCAL enable_seqscan = off');
    const r = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`, params);
    return r.rows.map((x) => x['QUERY PLAN']).join('\n');
  } finally {
    await c.query('ROLLBACK');
    c.release();
  }
}

async function queryVectors(enc: Encoder): Promise<string[]> {
  return (await enc.encode(QUERIES, 'query')).vectors.map((v) => vec(v));
}

/** Exact answers straight from the chunk table: passages, and rows by their best chunk. */
async function exact(db: pg.Pool, q: string, checksum: string, k: number): Promise<{ passages: string[]; rows: string[] }> {
  const p = await db.query<{ key: string }>(`SELECT id || ':' || chunk AS key FROM embedsync.leads_chunks WHERE model_checksum = $2
    ORDER BY embedding <=> $1::vector, id, chunk LIMIT $3`, [q, checksum, k]);
  const r = await db.query<{ id: string }>(`SELECT id::text FROM embedsync.leads_chunks WHERE model_checksum = $2
    GROUP BY id ORDER BY min(embedding <=> $1::vector), id LIMIT $3`, [q, checksum, k]);
  return { passages: p.rows.map((x) => x.key), rows: r.rows.map((x) => x.id) };
}

async function served(db: pg.Pool, q: string, k: number): Promise<{ passages: string[]; rows: string[] }> {
  const p = await db.query<{ key: string }>('SELECT id || \':\' || chunk AS key FROM embedsync.leads_search_chunks($1::vector, $2)',
    [q, k]);
  const r = await db.query<{ id: string }>('SELECT id::text FROM embedsync.leads_search($1::vector, $2)', [q, k]);
  return { passages: p.rows.map((x) => x.key), rows: r.rows.map((x) => x.id) };
}

test('a chunked table\'s hnsw index: built by migrate, used by chunk search, same answers as exact search; ' +
  'a dimension change swaps it', async () => {
  const t = await setupMigrateDb(40, CHUNKED);
  try {
    const oldEnc = await t.encoder(TINY_MODEL_DIR);
    const run = await t.migrate({ encoder: oldEnc });
    const s = sourceSql(t.config(TINY_MODEL_DIR).source, 'bigint');
    const oldName = chunkIndexName(s, oldEnc.info);
    assert.ok(run.lines.some((l) => l.startsWith(`chunk index ${oldName} built`)), run.lines.join('\n'));
    const long = [await insertLead(t, 'Transcript', longText(70)), await insertLead(t, 'Notes', longText(50, 'v2 ')),
      await insertLead(t, 'Mail', longText(30, 'Re: '))];
    await t.embedAll(oldEnc);
    const chunks = (await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.leads_chunks')).rows[0]!.n;
    assert.ok(chunks >= 40 + 6, `long documents in several chunks (${chunks} chunks)`);

    const idx = await chunkIndexes(t.pool);
    assert.deepEqual(idx.map((i) => i.name), [oldName]);
    assert.match(idx[0]!.def, new RegExp(`USING hnsw \\(\\(\\(embedding\\)::vector\\(64\\)\\) vector_cosine_ops\\) ` +
      `WHERE \\(model_checksum = '${oldEnc.info.checksum}'::text\\)`));

    const qs = await queryVectors(oldEnc);
    for (const fn of [
      'leads_search_chunks($1::vector, 5)', 'leads_search($1::vector, 5)', 'leads_hybrid_search(\'доставка\', $1::vector, 5)',
    ]) {
      assert.match(await plan(t.pool, `SELECT * FROM embedsync.${fn}`, [qs[0]]), new RegExp(`Index Scan using "?${oldName}"?`), fn);
    }
    assert.match(await plan(t.pool, 'SELECT * FROM embedsync.leads_similar_to($1, 5)', [long[0]]),
      new RegExp(`Index Scan using "?${oldName}"?`));
    for (const q of qs) assert.deepEqual(await served(t.pool, q, 5), await exact(t.pool, q, oldEnc.info.checksum, 5));
    // The row's own passages are left out of similar_to, every other row once.
    const similar = (await t.pool.query<{ id: string }>('SELECT id::text FROM embedsync.leads_similar_to($1, 5)', [long[0]]))
      .rows.map((r) => r.id);
    assert.equal(similar.length, 5);
    assert.equal(new Set(similar).size, 5);
    assert.ok(!similar.includes(long[0]!));

    // A dimension change: the new model's index is built before the swap (steps report it) and serves search;
    // the old model's goes when the migration ends, its chunks with the prune.
    const newEnc = await t.encoder(variants.small);
    const seen: string[][] = [];
    const r = await t.migrate({
      encoder: newEnc,
      fault: async (p) => { if (p === 'after-swap') seen.push((await chunkIndexes(t.pool)).map((i) => i.name).sort()); },
    });
    assert.equal(r.handled, true);
    const newName = chunkIndexName(s, newEnc.info);
    assert.deepEqual(seen, [[oldName, newName].sort()], 'both indexes at the swap');
    assert.deepEqual((await chunkIndexes(t.pool)).map((i) => i.name), [newName]);
    const nq = await queryVectors(newEnc);
    assert.match(await plan(t.pool, 'SELECT * FROM embedsync.leads_search_chunks($1::vector, 5)', [nq[0]]),
      new RegExp(`Index Scan using "?${newName}"?`));
    assert.match(await plan(t.pool, 'SELECT * FROM embedsync.leads_search($1::vector, 5)', [nq[0]]),
      new RegExp(`Index Scan using "?${newName}"?`));
    await pruneChunks(t.pool, sourceSql(t.config(variants.small).source, 'bigint'));
    const after = await chunkIndexes(t.pool);
    assert.deepEqual(after.map((i) => i.name), [newName]);
    assert.match(after[0]!.def, /::vector\(48\)\) vector_cosine_ops\)/);
    for (const q of nq) assert.deepEqual(await served(t.pool, q, 5), await exact(t.pool, q, newEnc.info.checksum, 5));

    // EMBEDSYNC_INDEX=none: no chunk index, and chunk search reads every chunk (exact).
    await t.migrate({ encoder: newEnc, env: { EMBEDSYNC_INDEX: 'none' }, updateSettings: true });
    assert.deepEqual(await chunkIndexes(t.pool), []);
    assert.doesNotMatch(await plan(t.pool, 'SELECT * FROM embedsync.leads_search_chunks($1::vector, 5)', [nq[0]]),
      /leads_chunks_[0-9a-f]{12}/);
    for (const q of nq) assert.deepEqual(await served(t.pool, q, 5), await exact(t.pool, q, newEnc.info.checksum, 5));
  } finally {
    await t.close();
  }
});

test('a chunked table switching to halfvec: the chunk index follows the type (halfvec_cosine_ops), ' +
  'the vector one goes when the migration ends', async () => {
  const t = await setupMigrateDb(20, CHUNKED);
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: enc });
    await insertLead(t, 'Transcript', longText(60));
    await t.embedAll(enc);
    const vectorName = chunkIndexName(sourceSql(t.config(TINY_MODEL_DIR).source, 'bigint'), enc.info);
    const half = sourceSql(t.config(TINY_MODEL_DIR, { EMBEDSYNC_VECTOR_TYPE: 'halfvec' }).source, 'bigint');
    const halfName = chunkIndexName(half, enc.info);
    assert.notEqual(halfName, vectorName);

    const seen: string[][] = [];
    const r = await t.migrate({
      encoder: enc, env: { EMBEDSYNC_VECTOR_TYPE: 'halfvec' },
      fault: async (p) => { if (p === 'after-swap') seen.push((await chunkIndexes(t.pool)).map((i) => i.name).sort()); },
    });
    assert.ok(r.handled);
    assert.deepEqual(seen, [[halfName, vectorName].sort()], 'both indexes at the swap');
    const [q] = await queryVectors(enc);
    const p = await plan(t.pool, 'SELECT * FROM embedsync.leads_search_chunks($1::vector, 5)', [q]);
    assert.match(p, new RegExp(`Index Scan using "?${halfName}"?`));
    // The sweep's prune (by predicate: the checksum is the same) keeps it.
    await pruneChunks(t.pool, half);
    const left = await chunkIndexes(t.pool);
    assert.deepEqual(left.map((i) => i.name), [halfName]);
    assert.match(left[0]!.def, /USING hnsw \(\(\(embedding\)::halfvec\(64\)\) halfvec_cosine_ops\)/);
    // Half precision moves scores a little, not the nearest passages of a small table.
    const served = (await t.pool.query<{ key: string }>(
      'SELECT id || \':\' || chunk AS key FROM embedsync.leads_search_chunks($1::vector, 5)', [q])).rows.map((x) => x.key);
    assert.deepEqual(served, (await exact(t.pool, q!, enc.info.checksum, 5)).passages);
  } finally {
    await t.close();
  }
});
