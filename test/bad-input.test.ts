// The bad-input corpus (test/fixtures/bad-input-corpus.json) through both paths: the sync path (real Postgres,
// the daemon on the tiny model) and the HTTP API (app.inject, raw bytes for invalid UTF-8). Each case states
// its outcome in the file; this checks it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CORPUS, expand, isHex, requestOf, type CorpusCase } from './helpers/bad-input-corpus.ts';
import { makeApp } from './helpers/http-app.ts';
import { cosine, parseVector, setupSyncDb, waitFor } from './helpers/sync.ts';

test('the corpus has at least 40 cases, each with a stated outcome on both paths', () => {
  assert.ok(CORPUS.length >= 40, `${CORPUS.length} cases`);
  for (const c of CORPUS) {
    assert.ok(['embedded', 'blank', 'rejected', 'n/a'].includes(c.sync.outcome), c.name);
    assert.ok((c.sync.outcome === 'n/a') === (c.row === undefined), `${c.name}: a row exactly when the sync path applies`);
    if (c.sync.outcome === 'rejected' || c.sync.outcome === 'n/a') assert.ok(c.sync.why, `${c.name}: says why`);
    assert.ok(Number.isInteger(c.http.status), c.name);
    if (c.http.status !== 200) assert.ok(c.http.message !== undefined, `${c.name}: names the error`);
  }
});

function assertUnitVector(v: unknown, what: string): void {
  assert.ok(Array.isArray(v) && v.length === 64, `${what}: a 64-dimension vector`);
  const xs = v as number[];
  assert.ok(xs.every(Number.isFinite), `${what}: finite`);
  const norm = Math.sqrt(xs.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-4, `${what}: unit length (${norm})`);
}

function vectorsOf(path: string, body: Record<string, unknown>): { id?: string; embedding: unknown; error?: string }[] {
  if (path === '/embed/batch') return body.results as { id: string; embedding: unknown; error?: string }[];
  if (path === '/v1/embeddings') return body.data as { embedding: unknown }[];
  return [{ embedding: body.embedding }];
}

test('HTTP API: every case gets its stated status and message', async () => {
  const { app } = await makeApp({ env: { RATE_LIMIT: '100000/minute', RATE_LIMIT_BATCH: '100000/minute' } });
  try {
    for (const c of CORPUS) {
      const { path, payload } = requestOf(c);
      const res = await app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/json' }, payload });
      assert.equal(res.statusCode, c.http.status, `${c.name}: ${res.body.slice(0, 300)}`);
      const body = res.json();
      if (c.http.status !== 200) {
        const message = JSON.stringify(body.detail ?? (body.error as { message?: string })?.message ?? body.error ?? body);
        assert.ok(message.includes(c.http.message!), `${c.name}: ${message} should mention ${JSON.stringify(c.http.message)}`);
        assert.ok(body.request_id, `${c.name}: error carries a request id`);
        continue;
      }
      for (const [i, item] of vectorsOf(path, body).entries()) {
        const expectedError = item.id !== undefined ? c.http.item_errors?.[item.id] : undefined;
        if (expectedError) {
          assert.equal(item.embedding, null, `${c.name}: item ${item.id} failed`);
          assert.match(item.error ?? '', new RegExp(expectedError), `${c.name}: item ${item.id}`);
        } else {
          assertUnitVector(item.embedding, `${c.name} [${i}]`);
        }
      }
    }
  } finally {
    await app.close();
  }
});

/** The document as the product defines it: each text column trimmed of whitespace, blank ones skipped, '. ' between. */
const documentOf = (...cols: (string | null)[]) => cols.map((c) => c?.trim() ?? '').filter((c) => c !== '').join('. ');
const md5uuid = (s: string) => createHash('md5').update(s, 'utf8').digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');

async function insertCase(pool: import('pg').Pool, c: CorpusCase): Promise<string> {
  const { title, description } = c.row!;
  // Raw bytes go in as bytea and are converted by Postgres itself, as a client with another encoding would.
  const param = (v: typeof title, n: number) =>
    (isHex(v) ? [`convert_from(decode($${n}, 'hex'), 'UTF8')`, v.hex] : [`$${n}::text`, v === null ? null : expand(v)]);
  const [t, tv] = param(title, 1);
  const [d, dv] = param(description, 2);
  const r = await pool.query<{ id: string }>(`INSERT INTO leads (title, description) VALUES (${t}, ${d}) RETURNING id`, [tv, dv]);
  return r.rows[0]!.id;
}

test('sync path: every case is embedded, blank or refused by Postgres as stated; ' +
  'nothing is retried forever', { timeout: 180_000 }, async () => {
  const t = await setupSyncDb();
  try {
    const daemon = await t.startDaemon();
    const ids = new Map<string, string>();
    for (const c of CORPUS) {
      if (!c.row) continue;
      if (c.sync.outcome === 'rejected') {
        await assert.rejects(insertCase(t.pool, c), (err: { code?: string }) => err.code === '22021', `${c.name}: Postgres refuses it`);
        continue;
      }
      ids.set(c.name, await insertCase(t.pool, c));
    }
    await t.look(); // every case queued before the wait below
    await waitFor('queue drained', async () => (await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount === 0, 120_000, 100);
    assert.equal((await t.pool.query('SELECT 1 FROM embedsync.deadletter')).rowCount, 0, 'nothing dead-lettered');

    for (const c of CORPUS) {
      const id = ids.get(c.name);
      if (!id) continue;
      const row = (await t.pool.query<{
        title: string | null; description: string | null; e: string | null; checksum: string; hash: string | null;
      }>(
        'SELECT title, description, embedding::text AS e, model_checksum AS checksum, embedding_text_hash::text AS hash ' +
        'FROM leads WHERE id = $1', [id])).rows[0]!;
      for (const [col, want] of Object.entries(c.sync.stored ?? {})) assert.equal(row[col as 'title'], want, `${c.name}: stored ${col}`);
      assert.equal(row.checksum, t.encoder.info.checksum, `${c.name}: current checksum`);
      const doc = documentOf(row.title, row.description);
      if (c.sync.outcome === 'blank') {
        assert.equal(doc, '', `${c.name}: the document is blank`);
        assert.equal(row.e, null, `${c.name}: embedding NULL`);
        continue;
      }
      assert.ok(row.e, `${c.name}: embedded`);
      assert.equal(row.hash, md5uuid(doc), `${c.name}: made from the document as defined`);
      const fresh = (await t.encoder.encode([doc], 'document')).vectors[0]!;
      assert.ok(cosine(parseVector(row.e), fresh) >= 0.9999, `${c.name}: the vector of its document`);
    }
    // Blank and odd rows are settled: a reconciliation sweep finds nothing to redo.
    const swept = await daemon.sweep();
    assert.equal(swept.enqueued, 0, 'a sweep re-enqueues nothing');
  } finally {
    await t.close();
  }
});
