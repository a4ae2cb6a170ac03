// POST /search and `embedsync search`: text in, rows out, exactly the SQL function's answer (vector and hybrid),
// through the query cache, behind the API key, with clear 4xx for what the caller must fix.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { searchCommand } from '../src/cli/search.ts';
import type { CommandContext } from '../src/cli/context.ts';
import { loadConfig } from '../src/config/index.ts';
import { closeTestApps, post, trackedApp } from './helpers/http-app.ts';
import { listing, setupMigrateDb } from './helpers/migrate-db.ts';

after(closeTestApps);

test('POST /search answers what the SQL functions answer, cached, keyed and with clear refusals; the CLI takes the same path', async () => {
  const t = await setupMigrateDb(300);
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: enc });
    const l = listing(4242);
    const code = 'QF-73519';
    const coded = (await t.pool.query<{ id: string }>('INSERT INTO leads (title, description) VALUES ($1, $2) RETURNING id::text',
      [l.title, `${l.description}, код ${code}`])).rows[0]!.id;
    await t.embedAll(enc);
    const app = await trackedApp({ db: t.pool, env: { API_KEY: 'search-key' } });
    const key = { 'x-api-key': 'search-key' };
    assert.equal(enc.info.checksum, app.app.embedsync.model.info!.checksum, 'the API runs the table\'s model');

    const q = `[${(await enc.encode([code], 'query')).vectors[0]!.join(',')}]`;
    const sql = async (text: string, params: unknown[]) =>
      (await t.pool.query<{ id: string; score: number }>(text, params)).rows.map((r) => ({ id: r.id, score: r.score }));

    // Vector search: the rows and scores of embedsync.search for the query-role vector.
    const plain = await post(app, '/search', { query: code, k: 7 }, key);
    assert.equal(plain.statusCode, 200, plain.body);
    const plainBody = plain.json();
    assert.equal(plainBody.model_checksum, enc.info.checksum);
    assert.equal(plainBody.cached, false);
    assert.deepEqual(plainBody.results, await sql('SELECT id::text, score FROM embedsync.search($1::vector, 7) ORDER BY score DESC', [q]));

    // Hybrid: the rows, scores and ranks of embedsync.hybrid_search, the coded lead first; the query vector
    // now comes from the cache.
    const hybrid = await post(app, '/search', { query: code, k: 10, table: 'leads', hybrid: true }, key);
    assert.equal(hybrid.statusCode, 200, hybrid.body);
    const hybridBody = hybrid.json();
    assert.equal(hybridBody.cached, true);
    const want = (await t.pool.query('SELECT id::text, score, text_rank, vector_rank FROM embedsync.hybrid_search($1, $2::vector, 10)',
      [code, q])).rows;
    assert.deepEqual(hybridBody.results, want);
    assert.equal(hybridBody.results[0].id, coded);
    // Weights pass through to the function.
    const weighted = await post(app, '/search', { query: code, k: 5, table: 'public.leads', hybrid: true, vector_weight: 2 }, key);
    assert.deepEqual(weighted.json().results,
      (await t.pool.query('SELECT id::text, score, text_rank, vector_rank ' +
        'FROM embedsync.leads_hybrid_search($1, $2::vector, 5, vector_weight => 2)', [code, q])).rows);

    // The CLI, same path: the same rows for the same query.
    const env = { DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1' };
    let out = '';
    const ctx: CommandContext = {
      argv: [code, '--hybrid', '--limit', '10', '--json'], env, config: () => loadConfig(env),
      stdout: { write: (s: string) => { out += s; return true; } },
      stderr: { write: () => true }, signal: new AbortController().signal, cores: 1, cwd: process.cwd(),
    };
    assert.equal(await searchCommand(ctx), 0);
    const cli = JSON.parse(out) as { id: string; score: number; document: string }[];
    assert.deepEqual(cli.map((h) => [h.id, h.score]), want.map((h) => [h.id, h.score]));
    assert.match(cli[0]!.document, new RegExp(code));

    // What the caller must fix: 4xx naming it. And no key, no search.
    assert.equal((await post(app, '/search', { query: code })).statusCode, 401);
    const refused = async (body: unknown, pattern: RegExp) => {
      const r = await post(app, '/search', body, key);
      assert.equal(r.statusCode, 400, `${JSON.stringify(body)}: ${r.body}`);
      assert.match(r.json().detail, pattern);
    };
    await refused({ query: code, k: 0 }, /k/);
    await refused({ query: code, k: 1001 }, /k/);
    await refused({ query: '   ' }, /query/);
    await refused({ query: code, table: 'a.b.c' }, /table .*more than one dot/);
    await refused({ query: code, table: 'notes' }, /table public\.notes is not synced by embedsync/);
    await refused({ query: code, hybrid: true, min_score: 0.5 }, /min_score applies to vector search only/);
    await refused({ query: code, text_weight: 2 }, /hybrid search only/);
    await refused({ query: code, limit: 3 }, /limit/);

    // A table holding another model's vectors is not searched with this model's query vectors.
    await t.pool.query(`UPDATE embedsync.state SET model_checksum = 'othermodel' WHERE source = 'public.leads'`);
    await refused({ query: code }, /holds vectors of model .*othermodel/);
    await t.pool.query(`UPDATE embedsync.state SET model_checksum = $1 WHERE source = 'public.leads'`, [enc.info.checksum]);

    // A server without a database says so.
    const noDb = await trackedApp();
    const r = await post(noDb, '/search', { query: code });
    assert.equal(r.statusCode, 503);
    assert.match(r.json().detail, /without a database connection/);
  } finally {
    await t.close();
  }
});
