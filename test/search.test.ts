// The SQL functions embedsync.similar_to / embedsync.search and the search command: index use (EXPLAIN),
// scores, min_score, wrong-dimension queries, stale rows skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { searchCommand } from '../src/cli/search.ts';
import type { CommandContext } from '../src/cli/context.ts';
import { setupMigrateDb } from './helpers/migrate-db.ts';
import { cosine, parseVector } from './helpers/sync.ts';

test('similar_to and search use the index, score by cosine, refuse wrong dimensions and skip stale rows', async () => {
  const t = await setupMigrateDb(0);
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: enc });
    // Enough rows for the planner to prefer the index: random vectors straight from SQL, marked current.
    await t.pool.query(
      `INSERT INTO leads (title, city, embedding, model_checksum)
       SELECT 'row ' || g, (ARRAY['Москва', 'Казань', 'Сочи', 'Пермь'])[1 + g % 4],
         (SELECT array_agg(random() - 0.5) FROM generate_series(1, 64) d WHERE d > g * 0)::vector, $1
       FROM generate_series(1, 20000) g`, [enc.info.checksum]);
    await t.pool.query('ANALYZE leads');
    assert.match((await t.migrate({ encoder: enc })).lines.join('\n'), /index leads_embedding_idx built on 20000 rows, lists 20/);

    const q = `[${Array.from({ length: 64 }, (_, i) => Math.sin(i + 1).toFixed(4)).join(',')}]`;
    const plan = async (sql: string, params: unknown[]) =>
      (await t.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n');
    const simPlan = await plan('SELECT * FROM embedsync.similar_to(42, 10)', []);
    assert.match(simPlan, /Index Scan using leads_embedding_idx on leads/, simPlan);
    assert.doesNotMatch(simPlan, /Function Scan/, 'inlined into the caller');
    const searchPlan = await plan('SELECT * FROM embedsync.search($1::vector, 10)', [q]);
    assert.match(searchPlan, /Index Scan using leads_embedding_idx on leads/, searchPlan);
    assert.match(searchPlan, /One-Time Filter: embedsync.check_query_dimensions/, 'the dimension check runs once, before the scan');
    // A caller's filter (a quarter of the rows match) rides on the same index scan.
    const filtered = await plan(`SELECT s.id FROM embedsync.search($1::vector, 10) s JOIN leads l ON l.id = s.id WHERE l.city = 'Казань'`,
      [q]);
    assert.match(filtered, /Index Scan using leads_embedding_idx/, filtered);
    const direct = await plan(`SELECT id FROM leads WHERE city = 'Казань' ORDER BY embedding <=> $1::vector LIMIT 10`, [q]);
    assert.match(direct, /Index Scan using leads_embedding_idx/, direct);

    await t.pool.query('SET ivfflat.probes = 20'); // exhaustive on this pool's connections: compare with exact
    const c = await t.pool.connect();
    try {
      await c.query('SET ivfflat.probes = 20');
      const hits = await c.query<{ id: string; score: number }>('SELECT id::text, score FROM embedsync.search($1::vector, 5)', [q]);
      assert.equal(hits.rowCount, 5);
      const exact = await c.query<{ id: string; e: string }>(
        `SELECT id::text, embedding::text AS e FROM leads ORDER BY embedding <=> $1::vector LIMIT 5`, [q]);
      assert.deepEqual(hits.rows.map((h) => h.id), exact.rows.map((r) => r.id));
      const qv = parseVector(q);
      hits.rows.forEach((h, i) =>
        assert.ok(Math.abs(h.score - cosine(qv, parseVector(exact.rows[i]!.e))) < 1e-5, 'score = 1 - cosine distance'));
      const cut = (hits.rows[1]!.score + hits.rows[2]!.score) / 2;
      const above = await c.query('SELECT * FROM embedsync.search($1::vector, 5, $2)', [q, cut]);
      assert.equal(above.rowCount, 2, 'min_score drops weaker hits');

      const sim = await c.query<{ id: string }>('SELECT id::text FROM embedsync.similar_to(42, 10)');
      assert.equal(sim.rowCount, 10);
      assert.ok(!sim.rows.some((r) => r.id === '42'), 'the row itself is excluded');

      // A stale row (made by another model) is never returned, even when it is the nearest.
      const top = hits.rows[0]!.id;
      await c.query(`UPDATE leads SET model_checksum = 'someoldmodel' WHERE id = $1`, [top]);
      const after = await c.query<{ id: string }>('SELECT id::text FROM embedsync.search($1::vector, 5)', [q]);
      assert.ok(!after.rows.some((r) => r.id === top));
      assert.deepEqual(after.rows.map((r) => r.id).slice(0, 4), hits.rows.slice(1).map((h) => h.id));
    } finally {
      c.release();
    }

    await assert.rejects(t.pool.query(`SELECT * FROM embedsync.search('[1,2,3]'::vector, 10)`),
      (err: Error & { code?: string }) => err.code === '22000' &&
        /query vector has 3 dimensions, but public\.leads holds 64-dimension vectors/.test(err.message));
  } finally {
    await t.close();
  }
});

test('embedsync search embeds the text with the query prompt and prints the nearest rows', async () => {
  const t = await setupMigrateDb(400);
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: enc });
    await t.embedAll(enc);
    const text = 'Квартира у метро с ремонтом';
    let out = '';
    const env = { DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1' };
    const { loadConfig } = await import('../src/config/index.ts');
    const ctx: CommandContext = {
      argv: [text, '--limit', '3'], env, config: () => loadConfig(env), stdout: { write: (s: string) => { out += s; return true; } },
      stderr: { write: () => true }, signal: new AbortController().signal, cores: 1, cwd: process.cwd(),
    };
    assert.equal(await searchCommand(ctx), 0);
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 3);
    // The same answer as the query-role vector through embedsync.search (no index on 400 rows: exact).
    const qv = (await enc.encode([text], 'query')).vectors[0]!;
    const want = await t.pool.query<{ id: string; score: number; doc: string }>(
      `SELECT s.id::text, s.score, concat_ws('. ', l.title, l.description) AS doc ` +
      'FROM embedsync.search($1::vector, 3) s JOIN leads l ON l.id = s.id ORDER BY s.score DESC',
      [`[${qv.join(',')}]`]);
    lines.forEach((line, i) => {
      const [score, id, ...doc] = line.trim().split(/\s+/);
      assert.equal(id, want.rows[i]!.id);
      assert.equal(score, want.rows[i]!.score.toFixed(4));
      assert.ok(want.rows[i]!.doc.replace(/\s+/g, ' ').startsWith(doc.join(' ').replace(/…$/, '')));
    });
    const docVec = (await enc.encode([text], 'document')).vectors[0]!;
    assert.ok(cosine(qv, docVec) < 0.99999, 'the query prompt changes the vector (so the test tells the roles apart)');
  } finally {
    await t.close();
  }
});
