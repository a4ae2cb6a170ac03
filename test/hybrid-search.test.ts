// Hybrid search (sql/hybrid-search.sql): a unique code in one lead's text makes it the first hybrid result
// although the test model's vectors rank it nowhere; weights and the RRF constant move the ranking as the
// score formula says; the tsvector follows the text through the daemon's write and a configuration change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { listing, setupMigrateDb } from './helpers/migrate-db.ts';

interface Hit { id: string; score: number; text_rank: number | null; vector_rank: number | null }

const CODES = ['KX-90417', 'ZQ-55102', 'WB-31876', 'PL-77230', 'HM-40961', 'RT-12894', 'DV-66013', 'NS-20458', 'GC-93371', 'YE-48825'];

test('hybrid search: a unique code ranks first by text, weights move the ranking, the tsvector follows the text', async () => {
  const t = await setupMigrateDb(400);
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: enc });
    // Rows present before migrate got their tsvector from migrate's fill; the coded rows come after, so the
    // daemon's write gives them theirs.
    const ids: string[] = [];
    for (const [i, code] of CODES.entries()) {
      const l = listing(1000 + i * 37);
      const r = await t.pool.query<{ id: string }>(
        'INSERT INTO leads (title, description, city) VALUES ($1, $2, $3) RETURNING id::text',
        [l.title, `${l.description}, код объекта ${code}`, l.city]);
      ids.push(r.rows[0]!.id);
    }
    await t.embedAll(enc);
    const filled = await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM leads WHERE embedding_tsv IS NULL');
    assert.equal(filled.rows[0]!.n, 0, 'every row has its tsvector');

    const vec = async (text: string) => `[${(await enc.encode([text], 'query')).vectors[0]!.join(',')}]`;
    // The code whose lead the vectors rank worst: far outside the vector side's 100 candidates.
    const exactRank = async (code: string, id: string) => (await t.pool.query<{ r: number }>(
      `SELECT r::int FROM (SELECT id, row_number() OVER (ORDER BY embedding <=> $1::vector) AS r FROM leads) x WHERE id = $2`,
      [await vec(code), id])).rows[0]!.r;
    const ranks = await Promise.all(CODES.map((c, i) => exactRank(c, ids[i]!)));
    const pick = ranks.indexOf(Math.max(...ranks));
    const code = CODES[pick]!;
    const codeId = ids[pick]!;
    assert.ok(ranks[pick]! > 150, `the vectors rank the coded lead nowhere (rank ${ranks[pick]} of 410)`);
    const q = await vec(code);

    const hybrid = async (sql: string, params: unknown[]) => (await t.pool.query<Hit>(sql, params)).rows;
    const plain = await hybrid('SELECT id::text, score FROM embedsync.search($1::vector, 10)', [q]);
    assert.ok(!plain.some((h) => h.id === codeId), 'vector search alone does not find it');

    const hits = await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.leads_hybrid_search($1, $2::vector, 10)', [code, q]);
    assert.equal(hits.length, 10);
    assert.deepEqual(hits[0], { id: codeId, score: 1 / 61, text_rank: 1, vector_rank: null }, 'first although no vector ranks it');
    assert.equal(hits.filter((h) => h.text_rank !== null).length, 1, 'only that lead holds the code');
    assert.deepEqual(hits.slice(1).map((h) => h.vector_rank), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'the rest by vector rank');
    for (const h of hits) {
      assert.ok(Math.abs(h.score - ((h.text_rank ? 1 / (60 + h.text_rank) : 0) + (h.vector_rank ? 1 / (60 + h.vector_rank) : 0))) < 1e-12);
    }
    // The vector side is the plain search's order.
    assert.deepEqual(hits.slice(1).map((h) => h.id), plain.slice(0, 9).map((h) => h.id));

    // The unqualified function serves the first table, and gives the same answer.
    assert.deepEqual(await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.hybrid_search($1, $2::vector, 10)', [code, q]), hits);

    // Weights: the vector side weighted double puts its best row first and the code down to where
    // 1/61 falls among 2/(60 + r): after vector rank 61 would be, i.e. out of the first 10.
    const vecHeavy = await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.hybrid_search($1, $2::vector, 10, vector_weight => 2)', [code, q]);
    assert.equal(vecHeavy[0]!.vector_rank, 1);
    assert.ok(!vecHeavy.some((h) => h.id === codeId));
    // Text weight 0: the code counts for nothing; text weight 3: it leads by a clear margin.
    const noText = await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.hybrid_search($1, $2::vector, 10, text_weight => 0)', [code, q]);
    assert.deepEqual(noText.map((h) => h.id), plain.map((h) => h.id));
    const textHeavy = await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.hybrid_search($1, $2::vector, 3, text_weight => 3)', [code, q]);
    assert.equal(textHeavy[0]!.id, codeId);
    assert.ok(textHeavy[0]!.score > 2 * textHeavy[1]!.score);
    // A small RRF constant sharpens the top of each side: rank 1 scores 1/(1+1), rank 2 1/(1+2).
    const sharp = await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.hybrid_search($1, $2::vector, 3, rrf_k => 1)', [code, q]);
    assert.deepEqual(sharp.map((h) => h.score), [0.5, 0.5, 1 / 3]);
    // Fewer candidates: the vector side ranks only that many rows.
    const few = await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.hybrid_search($1, $2::vector, 10, candidates => 3)', [code, q]);
    assert.equal(few.length, 10, 'each side still ranks at least k rows');

    // Text alone (no vector) and a query of words no row has.
    const textOnly = await hybrid('SELECT id::text, score, text_rank, vector_rank FROM embedsync.hybrid_search($1, NULL, 10)', [code]);
    assert.deepEqual(textOnly.map((h) => h.id), [codeId]);
    const noWords = await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.hybrid_search($1, $2::vector, 5)', ['zzzz-nothing', q]);
    assert.deepEqual(noWords.map((h) => h.id), plain.slice(0, 5).map((h) => h.id));
    // A web-search-box query: the phrase and a word together (AND), and an OR.
    const both = await hybrid(`SELECT id::text FROM embedsync.hybrid_search($1, NULL, 10)`, [`"код объекта" ${code}`]);
    assert.deepEqual(both.map((h) => h.id), [codeId]);
    const either = await hybrid(`SELECT id::text FROM embedsync.hybrid_search($1, NULL, 10)`, [`${CODES[0]} OR ${CODES[1]}`]);
    assert.deepEqual(either.map((h) => h.id).sort(), [ids[0]!, ids[1]!].sort());
    await assert.rejects(t.pool.query(`SELECT * FROM embedsync.hybrid_search('x', '[1,2,3]'::vector, 10)`),
      /query vector has 3 dimensions/);

    // The GIN index serves the text side.
    const c = await t.pool.connect();
    try {
      await c.query('SET enable_seqscan = off');
      const plan = (await c.query<{ 'QUERY PLAN': string }>('EXPLAIN (COSTS OFF) SELECT * FROM embedsync.hybrid_search($1, $2::vector, 10)',
        [code, q])).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(plan, /Bitmap Index Scan on leads_embedsync_fulltext/, plan);
    } finally {
      c.release();
    }

    // The text changes: once the daemon has re-embedded the row, its tsvector is the new text's.
    await t.pool.query(`UPDATE leads SET description = 'две комнаты, ремонт, код объекта скрыт' WHERE id = $1`, [codeId]);
    await t.embedAll(enc);
    assert.deepEqual(await hybrid('SELECT id::text FROM embedsync.hybrid_search($1, NULL, 10)', [code]), []);

    // Another text search configuration: migrate rebuilds every row's tsvector in it. russian stems (and takes
    // English words through the English stemmer): an inflected word now finds the listings.
    const inflected = 'квартиры';
    assert.deepEqual(await hybrid('SELECT id::text FROM embedsync.hybrid_search($1, NULL, 5)', [inflected]), [], 'simple does not stem');
    await t.migrate({ encoder: enc, env: { EMBEDSYNC_TEXT_SEARCH_CONFIG: 'russian' } });
    assert.equal((await hybrid('SELECT id::text FROM embedsync.hybrid_search($1, NULL, 5)', [inflected])).length, 5);
    const recorded = await t.pool.query<{ config: string }>(`SELECT config FROM embedsync.fulltext WHERE source = 'public.leads'`);
    assert.equal(recorded.rows[0]!.config, 'russian');
    await assert.rejects(t.migrate({ encoder: enc, env: { EMBEDSYNC_TEXT_SEARCH_CONFIG: 'klingon' } }),
      /EMBEDSYNC_TEXT_SEARCH_CONFIG=klingon is not a text search configuration/);
  } finally {
    await t.close();
  }
});

test('hybrid search: a word in many rows ranks at most text_matches of them, and every vector candidate that holds it', async () => {
  // 2,000 rows, k 400: the vector side's 400 candidates are a fifth of the table, and every text-ranked row
  // (at most 5 + 400) scores above the 400th row of the answer, so the answer shows the whole text side.
  const t = await setupMigrateDb(2000);
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: enc });
    await t.embedAll(enc);
    const common = (await t.pool.query<{ word: string; ndoc: number }>(
      `SELECT word, ndoc FROM ts_stat('SELECT embedding_tsv FROM leads') WHERE word ~ '^[[:alpha:]]+$' ` +
      'ORDER BY ndoc DESC, word LIMIT 1')).rows[0]!;
    assert.ok(common.ndoc >= 200, `a word in many rows (${common.word}: ${common.ndoc})`);
    const q = `[${(await enc.encode([common.word], 'query')).vectors[0]!.join(',')}]`;
    const hybrid = async (sql: string, params: unknown[]) => (await t.pool.query<Hit>(sql, params)).rows;
    const textRanked = (hits: Hit[]) => hits.filter((h) => h.text_rank !== null).map((h) => h.id);

    // NULL ranks every match; the default (1,000) does too on a table this small.
    const every = await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.hybrid_search($1, $2::vector, 400, text_matches => NULL)', [common.word, q]);
    const everyText = await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.hybrid_search($1, NULL, 400, text_matches => NULL)', [common.word]);
    assert.equal(everyText.length, Math.min(common.ndoc, 400));
    // The text side compared (id and text rank): rows of the tiny model share vectors, so vector ranks of equal
    // distances may change places from one call to the next.
    const textSide = (hits: Hit[]) => hits.filter((h) => h.text_rank !== null).map((h) => `${h.id}:${h.text_rank}`).sort();
    assert.deepEqual(textSide(await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.hybrid_search($1, $2::vector, 400)', [common.word, q])), textSide(every));

    // Text alone, 5 matches at most: 5 rows, in ts_rank order.
    const five = await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.hybrid_search($1, NULL, 400, text_matches => 5)', [common.word]);
    assert.deepEqual(five.map((h) => h.text_rank), [1, 2, 3, 4, 5]);
    // Those of highest id (the newest), whatever scan the planner picks: the same answer every time.
    const newest = await t.pool.query<{ id: string }>(
      `SELECT id::text FROM leads WHERE embedding_tsv @@ websearch_to_tsquery('simple', $1) ORDER BY leads.id DESC LIMIT 5`, [common.word]);
    assert.deepEqual(five.map((h) => Number(h.id)).sort((a, b) => a - b), newest.rows.map((r) => Number(r.id)).sort((a, b) => a - b));

    // With a vector: the vector side's candidates that hold the word keep their text rank, whatever the cap.
    const candidates = (await t.pool.query<{ id: string }>(
      `SELECT v.id::text FROM embedsync.hybrid_search(NULL, $2::vector, 400) v JOIN leads l ON l.id = v.id
       WHERE l.embedding_tsv @@ websearch_to_tsquery('simple', $1)`, [common.word, q])).rows.map((r) => r.id);
    assert.ok(candidates.length >= 3, `vector candidates holding the word: ${candidates.length}`);
    const capped = textRanked(await hybrid(
      'SELECT id::text, score, text_rank, vector_rank FROM embedsync.hybrid_search($1, $2::vector, 400, text_matches => 5)',
      [common.word, q]));
    for (const id of candidates) assert.ok(capped.includes(id), `vector candidate ${id} holds the word and has a text rank`);
    const beyond = capped.filter((id) => !candidates.includes(id));
    assert.ok(beyond.length >= 1 && beyond.length <= 5, `at most 5 others: ${beyond.length}`);
    assert.ok(capped.length < common.ndoc, 'the cap left matches out');
    // The text ranks follow ts_rank, the ties by id, as without the cap.
    const ranks = (await t.pool.query<{ id: string }>(
      `SELECT id::text FROM leads WHERE id::text = ANY($2) ` +
      `ORDER BY ts_rank(embedding_tsv, websearch_to_tsquery('simple', $1)) DESC, leads.id`,
      [common.word, capped])).rows.map((r) => r.id);
    const byRank = (await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.hybrid_search($1, $2::vector, 400, text_matches => 5)', [common.word, q]))
      .filter((h) => h.text_rank !== null).sort((a, b) => a.text_rank! - b.text_rank!).map((h) => h.id);
    assert.deepEqual(byRank, ranks);

    // A table set up by a version whose function had no text_matches: migrate replaces it, and a call with the
    // defaults is not ambiguous.
    await t.pool.query('DROP FUNCTION embedsync.leads_hybrid_search');
    await t.pool.query(`CREATE FUNCTION embedsync.leads_hybrid_search(query_text text, query_vector vector, k integer DEFAULT 10,
      text_weight float8 DEFAULT 1, vector_weight float8 DEFAULT 1, rrf_k float8 DEFAULT 60, candidates integer DEFAULT 100)
      RETURNS TABLE (id bigint, score float8, text_rank integer, vector_rank integer) ` +
      'LANGUAGE sql AS $$ SELECT 1::bigint, 0::float8, 1, 1 $$');
    await t.migrate({ encoder: enc });
    const overloads = await t.pool.query(
      `SELECT 1 FROM pg_proc WHERE proname = 'leads_hybrid_search' AND pronamespace = 'embedsync'::regnamespace`);
    assert.equal(overloads.rowCount, 1);
    // The text side compared, as above (vector ranks of equal distances may change places between calls).
    const replaced = await hybrid('SELECT id::text, score, text_rank, vector_rank ' +
      'FROM embedsync.leads_hybrid_search($1, $2::vector, 400)', [common.word, q]);
    assert.equal(replaced.length, every.length);
    assert.deepEqual(textSide(replaced), textSide(every));
  } finally {
    await t.close();
  }
});
