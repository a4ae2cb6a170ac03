// bench:search — search at scale, vector against halfvec, and hybrid search (not part of npm test). On a private
// cluster (or DATABASE_URL's server), two tables of the same N leads, one migrated with EMBEDSYNC_VECTOR_TYPE=vector
// and one with halfvec, filled through the daemon's write path with the clustered constant-time encoder of
// bench:scale (the database is what is measured). For each type and each index (ivfflat, then hnsw):
//   size      heap + TOAST of the table, the vector index, the full-text GIN index
//   search    p50/p99 of embedsync.<table>_search(q, 10) and recall@10 against the exact full-precision answer
//             (ivfflat at the probes given; hnsw at ef_search 40, pgvector's default)
//   hybrid    p50/p99 of embedsync.<table>_hybrid_search for a unique code, a common word (2 % of the rows) and a
//             very common one (12.5 %), with the default text_matches and, for the common words, ranking every match
//   POST /search  p50 through the HTTP API (app.inject, cache off) against the same SQL run directly
//   usage: npm run bench:search [-- --rows 100000 --dims 1024 --queries 200 --probes 10 --indexes ivfflat,hnsw --build-memory 1GB]
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig, type Config } from '../src/config/index.ts';
import { migrate } from '../src/migration/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import { installSearchFunctions } from '../src/db/search-functions.ts';
import { inspectSource } from '../src/db/source-info.ts';
import { encodeVector } from '../src/db/vector-binary.ts';
import { ensureIndex } from '../src/db/vector-index.ts';
import { backfillShadow } from '../src/migration/backfill.ts';
import { vectorTypeOid } from '../src/queue/queue.ts';
import { createLogger } from '../src/log/index.ts';
import { createMetrics } from '../src/metrics/index.ts';
import { buildApp } from '../src/http/index.ts';
import { clusteredVectors, scaleEncoder } from './scale-vectors.ts';

const { values } = parseArgs({ options: {
  rows: { type: 'string', default: '100000' },
  dims: { type: 'string', default: '1024' },
  queries: { type: 'string', default: '200' },
  probes: { type: 'string', default: '10' },
  indexes: { type: 'string', default: 'ivfflat,hnsw' },
  // maintenance_work_mem of the index builds: an HNSW graph that outgrows it builds many times slower.
  'build-memory': { type: 'string', default: '1GB' },
} });
const INDEXES = values.indexes.split(',').filter((k): k is 'ivfflat' | 'hnsw' => k === 'ivfflat' || k === 'hnsw');
const ROWS = Number(values.rows);
const DIMS = Number(values.dims);
const QUERIES = Number(values.queries);
const PROBES = Number(values.probes);
const TYPES = ['vector', 'halfvec'] as const;
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const mb = (bytes: number) => `${fmt(bytes / 2 ** 20, 1)} MB`;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const log = (s: string) => console.log(s);
// Each title starts with one of these: each word is in 1/8 of the rows (the simple configuration lower-cases).
const TITLE_WORDS = ['квартира', 'дом', 'офис', 'склад', 'flat', 'house', 'studio', 'дача'] as const;

function startCluster(): { url: string; dir: string | undefined } {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, dir: undefined };
  const dir = mkdtempSync('/tmp/embedsync-search-pg.');
  return { url: execFileSync('bash', ['scripts/pg-start.sh', dir]).toString().trim(), dir };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function main(): Promise<void> {
  const { url: base, dir } = startCluster();
  const dbName = `embedsync_search_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(base); u.pathname = `/${dbName}`;
  const url = u.toString();
  const db = createPool({ databaseUrl: url, max: 2, statementTimeoutMs: 0 });
  const encoder = scaleEncoder(DIMS);
  const vectorOf = clusteredVectors(DIMS);
  try {
    await db.query('CREATE EXTENSION IF NOT EXISTS vector');
    const server = (await db.query<{ v: string; pgv: string }>(
      `SELECT current_setting('server_version') AS v, ` +
      `(SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgv`)).rows[0]!;
    log(`embedsync search benchmark: ${fmt(ROWS)} leads, ${DIMS}-dim vectors, ${QUERIES} queries; ` +
      `PostgreSQL ${server.v}, pgvector ${server.pgv}; ${new Date().toISOString()}`);

    // The same leads in both tables: a unique code per lead, words from a vocabulary of 5,000 (each in ~0.2 %
    // of the rows, some of the 50 common ones in ~2 %).
    for (const type of TYPES) {
      await db.query(`CREATE TABLE leads_${type} (id bigserial PRIMARY KEY, title text, description text)`);
      await db.query(`INSERT INTO leads_${type} (title, description)
        SELECT (ARRAY['Квартира', 'Дом', 'Офис', 'Склад', 'Flat', 'House', 'Studio', 'Дача'])[1 + g % 8]
                 || ' ' || 'w' || ((g::bigint * 7919) % 5000),
               'код LD-' || g || ', ' || 'w' || ((g::bigint * 104729) % 5000) || ' c' || (g % 50) || ' ' || 'w' || ((g::bigint * 31) % 5000)
        FROM generate_series(1, $1::int) g`, [ROWS]);
    }
    const configs = new Map<string, Config>();
    for (const type of TYPES) {
      const config = loadConfig({
        DATABASE_URL: url,
        EMBEDSYNC_TABLE: `leads_${type}`,
        EMBEDSYNC_VECTOR_TYPE: type,
        EMBEDSYNC_INDEX: 'none',
        EMBEDDING_MODEL: encoder.info.name,
      });
      configs.set(type, config);
      let t = performance.now();
      const m = await migrate({ config, model: encoder.info });
      const migrateS = (performance.now() - t) / 1000;
      await db.query('DELETE FROM embedsync.queue WHERE source = $1', [`public.leads_${type}`]);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const info = await inspectSource(client, config.source);
        t = performance.now();
        await backfillShadow({ client, encoder, vectorOid: await vectorTypeOid(client), chunkSize: 1000 }, info.sql);
        const writeS = (performance.now() - t) / 1000;
        await installSearchFunctions(client, info.sql);
        await client.query(`VACUUM ANALYZE leads_${type}`);
        log(`${type}: migrate ${fmt(migrateS, 1)} s (tsvector of ${fmt(m.fullText.filled)} rows + GIN index), ` +
          `vectors written through the daemon's write statement in ${fmt(writeS, 1)} s (${fmt(ROWS / writeS)} rows/s)`);
      } finally {
        await client.end();
      }
    }

    // Queries: points near the clusters, like a query embedding near its documents; the exact full-precision answer.
    const qs = Array.from({ length: QUERIES }, (_, i) => vectorOf(`query ${i}`));
    const truth: Set<string>[] = [];
    {
      const c = await db.connect();
      try {
        await c.query('SET enable_indexscan = off');
        for (const q of qs) {
          truth.push(new Set((await c.query<{ id: string }>(
            'SELECT id::text AS id FROM leads_vector ORDER BY embedding <=> $1::vector LIMIT 10',
            [encodeVector(q)],
          )).rows.map((r) => r.id)));
        }
        // The connection goes back to the pool: the hybrid measurements must not inherit the exact scan.
        await c.query('RESET enable_indexscan');
      } finally {
        c.release();
      }
    }

    const sizes = async (type: string) => (await db.query<{ heap: string; vindex: string; gin: string }>(
      `SELECT pg_table_size('leads_${type}') AS heap,
              coalesce(pg_relation_size(to_regclass('leads_${type}_embedding_idx')), 0) AS vindex,
              pg_relation_size('leads_${type}_embedsync_fulltext') AS gin`)).rows.map((r) => ({
      heap: Number(r.heap),
      vindex: Number(r.vindex),
      gin: Number(r.gin),
    }))[0]!;

    const results: Record<string, Record<string, { total: number; p50: number; p99: number; recall: number; build: number }>> = {};
    for (const kind of INDEXES) {
      results[kind] = {};
      log(`\n${kind}${kind === 'ivfflat' ? ` (lists = rows/1000, probes ${PROBES})` : ' (m 16, ef_construction 64, ef_search 40)'}:`);
      log('| type | table (heap + TOAST) | vector index | table + index | GIN | index build | search p50 | search p99 | recall@10 |');
      log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
      for (const type of TYPES) {
        const config = configs.get(type)!;
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          const info = await inspectSource(client, config.source);
          const built = await ensureIndex(client, info.sql, 'embedding',
            { kind, growthFactor: 2, minRows: 1000, maintenanceWorkMem: values['build-memory'] }, { dimensions: DIMS });
          await client.query(`ANALYZE leads_${type}`);
          const s = await sizes(type);
          await client.query(kind === 'ivfflat' ? `SET ivfflat.probes = ${PROBES}` : 'SET hnsw.ef_search = 40');
          const search = `SELECT id::text AS id FROM embedsync.leads_${type}_search($1::vector, 10)`;
          for (const q of qs.slice(0, 20)) await client.query(search, [encodeVector(q)]); // warm the cache
          const ms: number[] = [];
          let hits = 0;
          for (const [i, q] of qs.entries()) {
            const t = performance.now();
            const r = await client.query<{ id: string }>(search, [encodeVector(q)]);
            ms.push(performance.now() - t);
            hits += r.rows.filter((x) => truth[i]!.has(x.id)).length;
          }
          const total = s.heap + s.vindex;
          const row = { total, p50: pct(ms, 0.5), p99: pct(ms, 0.99), recall: hits / (10 * qs.length), build: built.buildSeconds ?? 0 };
          results[kind][type] = row;
          log(`| ${type} | ${mb(s.heap)} | ${mb(s.vindex)} | ${mb(total)} | ${mb(s.gin)} | ` +
            `${fmt(row.build, 1)} s | ${fmt(row.p50, 2)} ms | ${fmt(row.p99, 2)} ms | ${fmt(row.recall, 3)} |`);
        } finally {
          await client.end();
        }
      }
      const v = results[kind].vector!, h = results[kind].halfvec!;
      log(`halfvec / vector: table + index ${fmt(100 * h.total / v.total, 1)} %, ` +
        `recall@10 ${fmt(h.recall - v.recall, 3)}, p99 ${fmt(h.p99 / v.p99, 2)}x`);

      // Hybrid search on both indexes (vector side) and the GIN index (text side).
      log('| type | text side | unique code: p50 | p99 | common word (2 %): p50 | p99 | very common word (12.5 %): p50 | p99 |');
      log('| --- | --- | --- | --- | --- | --- | --- | --- |');
      for (const type of TYPES) {
        const c = await db.connect();
        try {
          await c.query(kind === 'ivfflat' ? `SET ivfflat.probes = ${PROBES}` : 'SET hnsw.ef_search = 40');
          // text_matches: the default (the 1,000 matches of highest id ranked at most, and the vector candidates that match), or NULL
          // (every match ranked: the cost follows the matches).
          const hybrid = (every: boolean) =>
            `SELECT id::text AS id FROM embedsync.leads_${type}_hybrid_search($1, $2::vector, 10${every ? ', text_matches => NULL' : ''})`;
          const run = async (text: (i: number) => string, every = false) => {
            const ms: number[] = [];
            for (const [i, q] of qs.entries()) ms.push(await timed(() => c.query(hybrid(every), [text(i), encodeVector(q)])));
            return ms;
          };
          const code = await run((i) => `LD-${1 + ((i * 7727) % ROWS)}`);
          const first = await c.query<{ id: string }>(hybrid(false), [`LD-${1 + ((3 * 7727) % ROWS)}`, encodeVector(qs[3]!)]);
          if (first.rows[0]?.id !== String(1 + ((3 * 7727) % ROWS))) throw new Error('hybrid: the coded lead is not first');
          const common = (i: number) => `c${i % 50}`;
          const veryCommon = (i: number) => TITLE_WORDS[i % TITLE_WORDS.length]!;
          const cells = (xs: number[]) => `${fmt(pct(xs, 0.5), 2)} ms | ${fmt(pct(xs, 0.99), 2)} ms`;
          log(`| ${type} | ≤ 1,000 matches (default) | ${cells(code)} | ${cells(await run(common))} | ${cells(await run(veryCommon))} |`);
          log(`| ${type} | every match | | | ${cells(await run(common, true))} | ${cells(await run(veryCommon, true))} |`);
        } finally {
          c.release();
        }
      }
    }

    // POST /search against the same SQL run directly (the last index in place; the cache off, so every request encodes).
    {
      const config = loadConfig({
        DATABASE_URL: url,
        EMBEDSYNC_TABLE: 'leads_halfvec',
        EMBEDSYNC_VECTOR_TYPE: 'halfvec',
        EMBEDDING_MODEL: encoder.info.name,
        CACHE_ENABLED: 'false',
        RATE_LIMIT: '1000000/minute',
      });
      const app = await buildApp({
        config,
        encoder,
        metrics: createMetrics({ defaultMetrics: false }),
        logger: createLogger('silent'),
        db,
      });
      await app.embedsync.ready;
      const viaApi: number[] = [];
      const direct: number[] = [];
      const encode: number[] = [];
      for (let i = 0; i < QUERIES; i++) {
        const text = `LD-${1 + ((i * 7727) % ROWS)}`;
        viaApi.push(await timed(async () => {
          const r = await app.inject({ method: 'POST', url: '/search', payload: { query: text, k: 10, hybrid: true } });
          if (r.statusCode !== 200) throw new Error(r.body);
        }));
        let v: Float32Array | undefined;
        encode.push(await timed(async () => { v = (await encoder.encode([text], 'query')).vectors[0]; }));
        direct.push(await timed(() => db.query(
          'SELECT id::text, score, text_rank, vector_rank FROM embedsync.leads_halfvec_hybrid_search($1, $2::vector, 10)',
          [text, encodeVector(v!)],
        )));
      }
      await app.close();
      log(`\nPOST /search (hybrid, ${INDEXES.at(-1)}, halfvec): p50 ${fmt(pct(viaApi, 0.5), 2)} ms, ` +
        `p99 ${fmt(pct(viaApi, 0.99), 2)} ms; the SQL alone p50 ${fmt(pct(direct, 0.5), 2)} ms, ` +
        `p99 ${fmt(pct(direct, 0.99), 2)} ms; encode p50 ${fmt(pct(encode, 0.5), 3)} ms: ` +
        `the API adds ${fmt(pct(viaApi, 0.5) - pct(direct, 0.5) - pct(encode, 0.5), 2)} ms at p50`);
    }
  } finally {
    await db.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`).catch(() => undefined);
    await admin.end();
    if (dir) execFileSync('bash', ['scripts/pg-stop.sh', dir]);
  }
}

await main();
