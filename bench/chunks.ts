// bench:chunks — what chunking costs the encoder, and what the row's own vector keeps of its document.
// Prints figures; does not fail on targets.
//  1. Throughput (default: the RoSBERTa-shaped 24-layer int8 model): tokens/s the encoder feeds the model on
//     short lead texts (1–6 sentences, about 180 tokens on average) against long documents (50–100 sentences,
//     about 4,500 tokens of the RoSBERTa-shaped model's tokenizer) cut into chunks of the
//     model's limit by the chunking encoder (tokenizing and cutting on the main thread included), and against
//     the same long documents unchunked (cut at 512 tokens). Phases alternate (short, chunked, long, short,
//     chunked, long...) so drift on a shared machine falls on all of them; each figure is the total of its rounds.
//  2. Row vector (--phases retrieval): for long documents of the tiny test model (random weights, like every model on
//     this machine: it measures how much of its document a row vector still stands for, not meaning), each
//     chunk's text as a query against every row vector; recall@1 and mean rank of its document with the row
//     vector as the first chunk's vector, and as the normalised mean of the chunks' vectors.
//  3. Chunk search (--phases search): the table's _search and _search_chunks functions on 1,024-dimension chunks
//     in a throwaway Postgres, at --search-chunks counts: median and p95 of 20 queries, exact (no chunk index)
//     and through the hnsw chunk index (its build time, and recall@10 against the exact answers; --ef-search;
//     --data uniform or low-rank vectors).
//   usage: npm run bench:chunks [-- --phases throughput,retrieval --model /path/to/model --docs 4 --short 64 --rounds 2
//          --chunk-tokens 256 --retrieval-docs 60]
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { encoderLayout } from '../src/config/index.ts';
import { createLocalEncoder } from '../src/encoder/local-encoder.ts';
import { chunkingEncoder, chunksOf } from '../src/encoder/chunking-encoder.ts';
import type { Encoder } from '../src/encoder/types.ts';
import pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { inspectSource } from '../src/db/source-info.ts';
import { installSearchFunctions } from '../src/db/search-functions.ts';
import { ensureChunkIndex } from '../src/db/chunk-index.ts';
import { withBenchDatabase } from './bench-database.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '/work/main/models/rosberta-shape' },
    dtype: { type: 'string', default: 'int8' },
    docs: { type: 'string', default: '4' },
    short: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '2' },
    // EMBEDSYNC_CHUNK_TOKENS for the chunked phase (default: the model's limit less its prompt).
    'chunk-tokens': { type: 'string' },
    'retrieval-docs': { type: 'string', default: '60' },
    phases: { type: 'string', default: 'throughput,retrieval' },
    'search-chunks': { type: 'string', default: '10000,50000' },
    // hnsw.ef_search values for the indexed runs (pgvector's default 40).
    'ef-search': { type: 'string', default: '40,200' },
    // The chunks' vectors for the search phase: uniform | low-rank.
    data: { type: 'string', default: 'uniform' },
  },
});

const TINY = fileURLToPath(new URL('../test/fixtures/models/tiny-roberta', import.meta.url));
const RU = ['квартира', 'у метро', 'клиент', 'просит', 'перезвонить', 'договор', 'доставка', 'склад', 'ремонт', 'цена', 'встреча', 'офис',
  'в центре', 'с балконом'];
const EN = ['flat', 'near the station', 'client', 'asks', 'to call back', 'contract', 'delivery', 'warehouse', 'renovated', 'price',
  'meeting', 'office', 'downtown', 'with a garden'];

function rand(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** A lead-like sentence of 6–14 words, Russian or English. */
function sentence(r: () => number): string {
  const words = r() < 0.5 ? RU : EN;
  const n = 6 + Math.floor(r() * 9);
  const out = Array.from({ length: n }, () => words[Math.floor(r() * words.length)]!);
  out.push(String(Math.floor(r() * 1000)));
  const s = out.join(' ');
  return `${s[0]!.toUpperCase()}${s.slice(1)}.`;
}

function text(r: () => number, sentences: number): string {
  return Array.from({ length: sentences }, () => sentence(r)).join(' ');
}

async function timed(encoder: Encoder,
  batches: readonly (readonly string[])[]): Promise<{ tokens: number; seconds: number; texts: number }> {
  const t0 = performance.now();
  let tokens = 0;
  let texts = 0;
  for (const b of batches) {
    tokens += (await encoder.encode(b, 'document')).tokens;
    texts += b.length;
  }
  return { tokens, seconds: (performance.now() - t0) / 1000, texts };
}

async function throughput(): Promise<void> {
  const layout = encoderLayout(availableParallelism());
  const enc = await createLocalEncoder({
    dir: values.model, dtype: values.dtype === 'fp32' ? 'fp32' : 'int8', sessions: layout.sessions, threads: layout.threads,
    maxBatchTokens: 8192,
  });
  const chunked = chunkingEncoder(enc, { tokens: values['chunk-tokens'] ? Number(values['chunk-tokens']) : undefined, overlap: 64 });
  const r = rand(7);
  // Short texts: 1–6 sentences; long documents: 50–100 sentences.
  const short = Array.from({ length: Number(values.short) }, () => text(r, 1 + Math.floor(r() * 6)));
  const long = Array.from({ length: Number(values.docs) }, () => text(r, 50 + Math.floor(r() * 50)));
  const inBatches = (xs: readonly string[], n: number) =>
    Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));
  await enc.encode(short.slice(0, 8), 'document'); // warm-up: the pace has its first measurement
  const sum = {
    short: { tokens: 0, seconds: 0, texts: 0 }, chunked: { tokens: 0, seconds: 0, texts: 0 }, long: { tokens: 0, seconds: 0, texts: 0 },
  };
  const add = (k: keyof typeof sum, x: { tokens: number; seconds: number; texts: number }) => {
    sum[k].tokens += x.tokens; sum[k].seconds += x.seconds; sum[k].texts += x.texts;
  };
  let chunks = 0;
  for (let round = 0; round < Number(values.rounds); round++) {
    add('short', await timed(enc, inBatches(short, 32)));
    // Chunked documents go 4 to a call, as a sync batch of long rows would.
    const t0 = performance.now();
    let tokens = 0;
    for (const b of inBatches(long, 4)) {
      const res = await chunked.encode(b, 'document');
      tokens += res.tokens;
      chunks += res.vectors.reduce((s, v) => s + (chunksOf(v)?.length ?? 0), 0);
    }
    add('chunked', { tokens, seconds: (performance.now() - t0) / 1000, texts: long.length });
    add('long', await timed(enc, inBatches(long, 4)));
    process.stderr.write(`round ${round + 1} done\n`);
  }
  await enc.close();
  const rate = (k: keyof typeof sum) => sum[k].tokens / sum[k].seconds;
  console.log(`model ${values.model} (${values.dtype}), ${layout.sessions} session(s) × ${layout.threads} thread(s), ` +
    `${values.rounds} rounds, chunks of ${values['chunk-tokens'] ?? 'the model\'s limit'} tokens, overlap 64`);
  console.log(`short texts      ${sum.short.texts} texts, ${sum.short.tokens} tokens in ${sum.short.seconds.toFixed(1)} s: ` +
    `${rate('short').toFixed(0)} tokens/s, ${(sum.short.texts / sum.short.seconds).toFixed(2)} texts/s`);
  console.log(`chunked long     ${sum.chunked.texts} documents (${chunks} chunks), ` +
    `${sum.chunked.tokens} tokens in ${sum.chunked.seconds.toFixed(1)} s: ` +
    `${rate('chunked').toFixed(0)} tokens/s, ${(sum.chunked.texts / sum.chunked.seconds).toFixed(3)} documents/s`);
  console.log(`unchunked long   ${sum.long.texts} documents cut at 512 tokens, ` +
    `${sum.long.tokens} tokens in ${sum.long.seconds.toFixed(1)} s: ` +
    `${rate('long').toFixed(0)} tokens/s, ${(sum.long.texts / sum.long.seconds).toFixed(3)} documents/s`);
  console.log(`chunked / short tokens/s: ${(100 * rate('chunked') / rate('short')).toFixed(1)} %   ` +
    `chunked / unchunked long: ${(100 * rate('chunked') / rate('long')).toFixed(1)} %`);
}

async function retrieval(): Promise<void> {
  const enc = await createLocalEncoder({ dir: TINY, dtype: 'fp32', sessions: 1, threads: 1, maxBatchTokens: 8192 });
  const chunked = chunkingEncoder(enc, { tokens: undefined, overlap: 64 });
  const r = rand(11);
  const docs = Array.from({ length: Number(values['retrieval-docs']) }, () => text(r, 40 + Math.floor(r() * 120)));
  const rows = (await chunked.encode(docs, 'document')).vectors;
  const parts = rows.map((v) => chunksOf(v)!);
  const firsts = parts.map((p) => p[0]!.vector);
  const queries: { text: string; doc: number; chunk: number }[] =
    parts.flatMap((p, d) => p.map((c, i) => ({ text: c.text, doc: d, chunk: i })));
  const qv = (await enc.encode(queries.map((q) => q.text), 'query')).vectors;
  const dot = (a: Float32Array, b: Float32Array) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!; return s; };
  const score = (rowVectors: readonly Float32Array[], only: (q: { chunk: number }) => boolean) => {
    let hits = 0; let rankSum = 0; let n = 0;
    queries.forEach((q, i) => {
      if (!only(q)) return;
      const mine = dot(qv[i]!, rowVectors[q.doc]!);
      const rank = 1 + rowVectors.filter((v, d) => d !== q.doc && dot(qv[i]!, v) > mine).length;
      if (rank === 1) hits += 1;
      rankSum += rank; n += 1;
    });
    return `recall@1 ${(100 * hits / n).toFixed(1)} %, mean rank ${(rankSum / n).toFixed(2)} (${n} queries)`;
  };
  await enc.close();
  console.log(`row vector, ${docs.length} documents of ` +
    `${Math.min(...parts.map((p) => p.length))}–${Math.max(...parts.map((p) => p.length))} chunks (tiny test model), ` +
    'each chunk\'s text as the query:');
  console.log(`  first chunk     all chunks: ${score(firsts, () => true)}; chunks after the first: ${score(firsts, (q) => q.chunk > 0)}`);
  console.log(`  mean of chunks  all chunks: ${score(rows, () => true)}; chunks after the first: ${score(rows, (q) => q.chunk > 0)}`);
}

async function search(): Promise<void> {
  await withBenchDatabase(async (url) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('CREATE TABLE docs (id bigint PRIMARY KEY, title text, description text)');
      const config = loadConfig({ DATABASE_URL: url, EMBEDSYNC_TABLE: 'docs', EMBEDSYNC_CHUNKING: 'tokens' });
      const model = { name: 'bench', checksum: 'bench0000000000a', dimensions: 1024 };
      await migrateSchema(c, config.source, model);
      const s = (await inspectSource(c, config.source)).sql;
      await installSearchFunctions(c, s);
      // Random vectors (components centred on 0), 6 chunks a row (a ~3,000-token document), 300 characters each.
      // --data uniform: every component random (no neighbourhoods: the worst case for an approximate index).
      // --data low-rank: random mixes of 16 random directions, so the vectors span 16 dimensions of the 1,024
      // (embeddings of text have a low intrinsic dimension too; this is a stand-in, not a model's output).
      await c.query('CREATE TABLE bench_basis AS SELECT i, ' +
        `(SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 1024) WHERE i >= 0)::vector AS v
        FROM generate_series(1, 16) i`);
      const vector = values.data === 'low-rank'
        ? 'SELECT sum(array_fill((random() - 0.5)::real, ARRAY[1024])::vector * b.v) FROM bench_basis b WHERE g >= 0'
        : 'SELECT (SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 1024) WHERE g >= 0)::vector';
      const queries: string[] = [];
      for (let i = 0; i < 22; i++) {
        queries.push((await c.query<{ v: string }>(`SELECT (${vector.replace('WHERE g >= 0', `WHERE ${i} >= 0`)})::text AS v`)).rows[0]!.v);
      }
      const run = async (fn: string): Promise<{ ms: number[]; answers: string[][] }> => {
        const ms: number[] = [];
        const answers: string[][] = [];
        for (const [i, q] of queries.entries()) {
          const t0 = performance.now();
          const r = await c.query<{ key: string }>(
            `SELECT ${fn.endsWith('_chunks') ? "id || ':' || chunk" : 'id::text'} AS key FROM embedsync.${fn}($1::vector, 10)`, [q]);
          if (i >= 2) ms.push(performance.now() - t0);
          answers.push(r.rows.map((x) => x.key));
        }
        return { ms: ms.sort((a, b) => a - b), answers };
      };
      const fig = (ms: number[]) => `p50 ${ms[9]!.toFixed(1)} ms, p95 ${ms[18]!.toFixed(1)} ms`;
      let have = 0;
      console.log(`chunk search, 1,024 dimensions (${values.data}), 20 queries each (k = 10), exact and through the hnsw chunk index:`);
      for (const n of values['search-chunks'].split(',').map(Number)) {
        // Exact first: no chunk index (EMBEDSYNC_INDEX=none; dropped before the insert, which it would slow),
        // functions rendered without it.
        await ensureChunkIndex(c, s, model, 'none', '512MB');
        await c.query(`INSERT INTO embedsync.docs_chunks (id, chunk, chunk_text, embedding, model_checksum)
          SELECT g / 6, g % 6, repeat('x', 300), (${vector}), $1 FROM generate_series($2::int, $3::int - 1) g`, [model.checksum, have, n]);
        have = n;
        await c.query('VACUUM ANALYZE embedsync.docs_chunks');
        await installSearchFunctions(c, s);
        const exact = new Map<string, string[][]>();
        for (const fn of ['docs_search', 'docs_search_chunks']) {
          const r = await run(fn);
          exact.set(fn, r.answers);
          console.log(`  ${n} chunks (${Math.ceil(n / 6)} rows)  exact  ${fn.padEnd(18)} ${fig(r.ms)}`);
        }
        const b = await ensureChunkIndex(c, s, model, 'hnsw', '512MB');
        await installSearchFunctions(c, s);
        console.log(`  ${n} chunks: hnsw chunk index built in ${b!.seconds.toFixed(1)} s (CONCURRENTLY, maintenance_work_mem 512MB)`);
        for (const ef of values['ef-search'].split(',').map(Number)) {
          await c.query(`SET hnsw.ef_search = ${ef}`);
          for (const fn of ['docs_search', 'docs_search_chunks']) {
            const r = await run(fn);
            const want = exact.get(fn)!;
            let hit = 0;
            for (const [i, a] of r.answers.entries()) hit += a.filter((k) => want[i]!.includes(k)).length;
            // The planner weighs the index against a sequential scan (pgvector costs ef_search in): say which it took.
            const plan = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) SELECT * FROM embedsync.${fn}($1::vector, 10)`,
              [queries[0]])).rows.map((x) => x['QUERY PLAN']).join('\n');
            const via = plan.includes(b!.name) ? 'index' : 'seq scan';
            console.log(`  ${n} chunks (${Math.ceil(n / 6)} rows)  hnsw ef_search ${String(ef).padEnd(4)} ${fn.padEnd(18)} ${fig(r.ms)}, ` +
              `recall@10 ${(hit / (10 * queries.length)).toFixed(3)} (${via})`);
          }
        }
        await c.query('RESET hnsw.ef_search');
      }
    } finally {
      await c.end();
    }
  });
}

if (values.phases.includes('search')) await search();
if (values.phases.includes('retrieval')) await retrieval();
if (values.phases.includes('throughput')) await throughput();
