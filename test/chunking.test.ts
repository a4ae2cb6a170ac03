// Chunked tables (EMBEDSYNC_CHUNKING=tokens) against real PostgreSQL and the tiny test model: a ~3,000-token
// document becomes chunks of at most the model's limit that overlap as configured and put back together give
// the document; a passage that stands only after token 512 is found by chunk search; DELETE and TRUNCATE take
// the chunks along; edits under a write storm replace a row's chunks whole, every snapshot showing exactly the
// chunks of the text the row's vector was made from. (Model changes, settings, several tables:
// chunking-lifecycle.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { chunkerFor } from '../src/encoder/chunking-encoder.ts';
import { Chunker } from '../src/encoder/chunker.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { chunkStats } from '../src/db/chunk-table.ts';
import { sourceSql } from '../src/db/source-sql.ts';
import { setupMigrateDb } from './helpers/migrate-db.ts';
import { CHUNKED, chunksOfRow, insertLead, longText, overlapOf, vec } from './helpers/chunks.ts';
import { cosine, documentOf, parseVector, waitFor } from './helpers/sync.ts';

test('a ~3,000-token document: chunks within the limit, overlapping by the setting, cut at sentence ends, ' +
  'giving back the document', async () => {
  const t = await setupMigrateDb(0);
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    const chunker: Chunker = chunkerFor(enc, { tokens: undefined, overlap: 40 });
    const doc = longText(80);
    const total = chunker.count(doc);
    assert.ok(total > 2500 && total < 4000, `about 3,000 tokens (${total})`);
    // The default size: the model's 512 less <s></s> and the document prompt.
    const size = chunker.options.size;
    const bare = new Chunker(JSON.parse(new TextDecoder().decode(enc.folder!.tokenizerJson)) as object, enc.folder!.tokenizerConfig,
      { size: 8, overlap: 0 });
    assert.equal(size, 512 - 2 - bare.count('search_document: '));
    const chunks = chunker.split(doc);
    assert.ok(chunks.length >= Math.ceil((total - 40) / (size - 40)), `enough chunks for the tokens (${chunks.length})`);
    assert.ok(chunks.length <= Math.ceil(total / (size / 2 - 40)), `no more than half-full chunks make (${chunks.length})`);
    let rebuilt = chunks[0]!;
    for (const [i, c] of chunks.entries()) {
      const n = chunker.count(c);
      assert.ok(n <= size, `chunk ${i}: ${n} tokens within ${size}`);
      if (i < chunks.length - 1) {
        assert.match(c, /\.$/, `chunk ${i} ends at a sentence end`);
        assert.ok(n > size / 2, `chunk ${i} is more than half full (${n})`);
      }
      if (i === 0) continue;
      const o = overlapOf(chunks[i - 1]!, c);
      const ot = chunker.count(o);
      // The overlap starts at a word: at most a word (a few tokens) short of the setting, never more than it.
      assert.ok(ot >= 33 && ot <= 41, `chunk ${i} repeats ${ot} tokens of chunk ${i - 1} ("${o.slice(0, 40)}…")`);
      assert.ok(/^\S/.test(c) && doc.includes(` ${c.slice(0, 20)}`), `chunk ${i} starts at a word`);
      rebuilt += c.slice(o.length);
    }
    assert.equal(rebuilt.replace(/\s+/g, ' '), doc.replace(/\s+/g, ' '), 'the chunks without their overlaps are the document');
    // A short document is one chunk, itself; a blank one none.
    assert.deepEqual(chunker.split('  Flat near the park.  '), ['Flat near the park.']);
    assert.deepEqual(chunker.split(' \n '), []);
    // A run without any space is cut at tokens, still within the limit.
    const run = 'x'.repeat(3000);
    const pieces = chunker.split(run);
    assert.ok(pieces.length > 1 && pieces.every((p) => chunker.count(p) <= size));
    // A document past maxChunks keeps its first chunks and says it was cut.
    const few = new Chunker(JSON.parse(new TextDecoder().decode(enc.folder!.tokenizerJson)) as object, enc.folder!.tokenizerConfig,
      { size: 100, overlap: 10, maxChunks: 3 });
    const capped = few.chunk(doc);
    assert.equal(capped.cut, true);
    assert.deepEqual(capped.chunks, new Chunker(JSON.parse(new TextDecoder().decode(enc.folder!.tokenizerJson)) as object,
      enc.folder!.tokenizerConfig, { size: 100, overlap: 10 }).split(doc).slice(0, 3));
    assert.equal(few.chunk('Short.').cut, false);
    assert.throws(() => chunkerFor(enc, { tokens: 600, overlap: 10 }),
      /EMBEDSYNC_CHUNK_TOKENS=600 is more than .* \(\d+\): set it to \d+ or less/);
  } finally {
    await t.close();
  }
});

test('a chunked table: chunks stored with the row, a passage after token 512 found by chunk search, ' +
  'DELETE and TRUNCATE take the chunks', async () => {
  const t = await setupMigrateDb(30, CHUNKED);
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: enc });
    const title = 'Call transcript';
    const description = `${longText(60)} The caller finally mentions the warehouse code QZ-8841 behind the old depot at night. ` +
      `${longText(30, 'Later ')}`;
    const id = await insertLead(t, title, description);
    await t.embedAll(enc);

    const chunker = chunkerFor(enc, { tokens: undefined, overlap: 40 });
    const doc = documentOf(title, description);
    const expected = chunker.split(doc);
    assert.ok(expected.length >= 3);
    const stored = await chunksOfRow(t.pool, id);
    assert.deepEqual(stored.map((c) => c.chunk_text), expected, 'the stored chunks are the chunker\'s');
    assert.deepEqual(stored.map((c) => c.chunk), expected.map((_, i) => i));
    assert.ok(stored.every((c) => c.model_checksum === enc.info.checksum));
    // The row's vector: the normalised mean of its chunks' vectors.
    const chunkVecs = stored.map((c) => parseVector(c.embedding));
    const mean = chunkVecs[0]!.map((_, k) => chunkVecs.reduce((s, v) => s + v[k]!, 0));
    const row = parseVector((await t.pool.query<{ e: string }>('SELECT embedding::text AS e FROM leads WHERE id = $1', [id])).rows[0]!.e);
    assert.ok(cosine(row, mean) > 0.9999, 'row vector = normalised mean of its chunks');
    // Each short lead is one chunk, the document itself.
    const short = await t.pool.query<{ n: number; same: number }>(
      `SELECT count(*)::int AS n,
         count(*) FILTER (WHERE c.chunk_text = concat_ws('. ', nullif(btrim(l.title), ''), nullif(btrim(l.description), '')))::int AS same
       FROM embedsync.leads_chunks c JOIN leads l ON l.id = c.id WHERE l.id <> $1`, [id]);
    assert.deepEqual(short.rows[0], { n: 30, same: 30 });

    // The passage with the code stands after token 512 of the document.
    const at = expected.findIndex((c) => c.includes('QZ-8841'));
    assert.ok(at >= 1, 'the code is not in the first chunk');
    assert.ok(chunker.count(doc.slice(0, doc.indexOf('QZ-8841'))) > 512, 'the code stands after token 512');
    const q = vec((await enc.encode([expected[at]!], 'document')).vectors[0]!);
    const passages = (await t.pool.query<{ id: string; chunk: number; chunk_text: string; score: number }>(
      'SELECT id::text, chunk, chunk_text, score FROM embedsync.leads_search_chunks($1::vector, 3)', [q])).rows;
    assert.equal(passages[0]!.id, id);
    assert.equal(passages[0]!.chunk, at);
    assert.match(passages[0]!.chunk_text, /QZ-8841/);
    assert.ok(passages[0]!.score > 0.9999);
    // Row search: each row once, with its best chunk's score; the unqualified function is the same.
    for (const fn of ['embedsync.leads_search', 'embedsync.search']) {
      const hits = (await t.pool.query<{ id: string; score: number }>(`SELECT id::text, score FROM ${fn}($1::vector, 10)`, [q])).rows;
      assert.equal(hits[0]!.id, id, fn);
      assert.ok(Math.abs(hits[0]!.score - passages[0]!.score) < 1e-9);
      assert.equal(new Set(hits.map((h) => h.id)).size, hits.length, 'each row once');
      assert.equal(hits.length, 10);
    }
    // The row's own (mean) vector matches that passage less than the passage's chunk does (the test model's
    // random vectors all lie close together, so the margin is small).
    const rowScore = 1 - (await t.pool.query<{ d: number }>('SELECT embedding <=> $1::vector AS d FROM leads WHERE id = $2', [q, id]))
      .rows[0]!.d;
    assert.ok(rowScore < passages[0]!.score - 1e-4, `row vector scores ${rowScore.toFixed(5)}`);
    // Hybrid: the vector side ranks by best chunk; the text side reads the whole document.
    const hybrid = (await t.pool.query<{ id: string; text_rank: number | null; vector_rank: number | null }>(
      'SELECT id::text, text_rank, vector_rank FROM embedsync.leads_hybrid_search($1, $2::vector, 5)', ['QZ-8841', q])).rows;
    assert.deepEqual(hybrid[0], { id, text_rank: 1, vector_rank: 1 });
    // similar_to: rows once each, not the row itself.
    const similar = (await t.pool.query<{ id: string }>('SELECT id::text FROM embedsync.leads_similar_to($1, 5)', [id])).rows;
    assert.equal(similar.length, 5);
    assert.ok(!similar.some((s) => s.id === id));
    const stats = await chunkStats(t.pool, sourceSql(t.config(TINY_MODEL_DIR, CHUNKED).source, 'bigint'));
    assert.deepEqual(stats, { chunks: 30 + expected.length, rows: 31, estimated: false });

    // DELETE takes the row's chunks in its own transaction; TRUNCATE takes them all.
    const c = new pg.Client({ connectionString: t.db.url });
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('DELETE FROM leads WHERE id = $1', [id]);
      assert.equal((await chunksOfRow(c, id)).length, 0, 'gone inside the deleting transaction');
      assert.equal((await chunksOfRow(t.pool, id)).length, expected.length, 'still there for others until it commits');
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    assert.equal((await chunksOfRow(t.pool, id)).length, 0);
    await t.pool.query('TRUNCATE leads');
    assert.equal((await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.leads_chunks')).rows[0]!.n, 0);
  } finally {
    await t.close();
  }
});

test('a write storm on a long document: its chunks are always one version whole, and the last edit\'s in the end', async () => {
  const t = await setupMigrateDb(0, CHUNKED);
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: enc });
    const version = (v: number) => longText(60 - (v % 7) * 5, `V${v} `);
    const edits = 40;
    // The version each document text is, by the hash the row stores of the text its vector was made from.
    const byHash = new Map(Array.from({ length: edits + 1 },
      (_, v) => [createHash('md5').update(documentOf('Notes', version(v))).digest('hex'), `V${v} `]));
    const id = await insertLead(t, 'Notes', version(0));
    // Two daemons race for the row's queue entry while the writer edits it; encoding takes a while, so edits
    // land between a document's read and its write.
    const slow = Object.create(enc, {
      encode: {
        value: async (...a: Parameters<Encoder['encode']>) => { await new Promise((r) => setTimeout(r, 25)); return enc.encode(...a); },
      },
    }) as Encoder;
    await t.startDaemon(slow, { EMBEDSYNC_LEASE_SECONDS: '1' });
    await t.startDaemon(slow, { EMBEDSYNC_LEASE_SECONDS: '1' });
    let stop = false;
    const mixed: string[] = [];
    let readings = 0;
    const reader = (async () => {
      const c = new pg.Client({ connectionString: t.db.url });
      await c.connect();
      try {
        while (!stop) {
          // One statement, one snapshot: the chunks and the hash of the text the row's vector was made from.
          const r = await c.query<{ versions: string[] | null; n: number; numbered: boolean; hash: string | null }>(
            `SELECT array_remove(array_agg(DISTINCT substring(x.chunk_text from 'V[0-9]+ ')), NULL) AS versions, count(x.*)::int AS n,
                    coalesce(bool_and(x.chunk < (SELECT count(*) FROM embedsync.leads_chunks y WHERE y.id = $1)), true) AS numbered,
                    replace(l.embedding_text_hash::text, '-', '') AS hash
             FROM leads l LEFT JOIN embedsync.leads_chunks x ON x.id = l.id WHERE l.id = $1 GROUP BY l.embedding_text_hash`, [id]);
          const row = r.rows[0]!;
          readings += 1;
          const vectorOf = row.hash ? byHash.get(row.hash) : undefined;
          const ok = row.numbered && (row.n === 0 ? !vectorOf : row.versions!.length === 1 && row.versions![0] === vectorOf);
          if (!ok) mixed.push(JSON.stringify({ ...row, vectorOf }));
        }
      } finally {
        await c.end();
      }
    })();
    for (let v = 1; v <= edits; v++) {
      await t.pool.query('UPDATE leads SET description = $1 WHERE id = $2', [version(v), id]);
      await new Promise((r) => setTimeout(r, 5 + (v % 5) * 10));
    }
    const finalDoc = documentOf('Notes', version(edits));
    const expected = chunkerFor(enc, { tokens: undefined, overlap: 40 }).split(finalDoc);
    await waitFor('the last version chunked', async () => {
      const q = await t.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM embedsync.queue WHERE source = 'public.leads'");
      const cs = await chunksOfRow(t.pool, id);
      return q.rows[0]!.n === 0 && cs.length === expected.length && cs.every((c) => c.chunk_text.includes(`V${edits} `));
    }, 60_000, 50);
    stop = true;
    await reader;
    assert.ok(readings > 20, `the reader looked often (${readings})`);
    assert.deepEqual(mixed, [], 'every reading saw the chunks of exactly the text the row\'s vector was made from, numbered without a gap');
    const stored = await chunksOfRow(t.pool, id);
    assert.deepEqual(stored.map((c) => c.chunk_text), expected, 'exactly the last version\'s chunks, once each');
    assert.ok(stored.every((c) => !/V(?!40 )\d+ /.test(c.chunk_text)), 'no chunk of an earlier version survives');
    const row = await t.pool.query<{ ok: boolean }>(
      `SELECT embedding_text_hash = md5(concat_ws('. ', nullif(btrim(title), ''), nullif(btrim(description), '')))::uuid AS ok
       FROM leads WHERE id = $1`, [id]);
    assert.equal(row.rows[0]!.ok, true, 'the row vector is the last version\'s too');
  } finally {
    await t.close();
  }
});
