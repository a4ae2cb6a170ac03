// Migration benchmark (prints figures; not a test): a 384 -> 1024-dimension shadow migration of a table
// while readers query it, on one database in one run.
//   - the longest wait a reader saw during the migration: a primary-key lookup and a similarity query
//     loop on their own connections, latency of every query recorded, split by migration step
//     (target: no reader blocked > 100 ms; the baseline before the migration is printed next to it);
//   - each step's seconds, the index build seconds;
//   - total migration time vs the sum of its parts: encode time + the bare index build (CREATE INDEX on the
//     same column with the same lists, nothing else running) + the bare binary write of the vectors.
// Vectors come from a constant-time source (a seeded pseudo-random unit vector per document hash): the tiny
// test model would need minutes for 100,000 rows on a shared 2-core machine, and the database path is what
// is measured. The tiny model's measured encode rate is printed, with what encoding would add.
// Uses DATABASE_URL when set (creates and drops a scratch database there), else a throwaway cluster.
//   usage: npm run bench:migrate [-- --rows 100000 --from 384 --to 1024]
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { createEncoder } from '../src/encoder/index.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { TINY_MODEL_DIR } from '../test/support/tiny-model-dir.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { createClient } from '../src/db/pool.ts';
import { inspectSource } from '../src/db/source-info.ts';
import { installSearchFunctions } from '../src/db/search-functions.ts';
import { runShadowMigration, type ShadowMigrationResult } from '../src/migration/steps.ts';
import { ensureIndex, DEFAULT_INDEX_POLICY } from '../src/db/vector-index.ts';
import { queueOps, vectorTypeOid } from '../src/queue/queue.ts';
import { withBenchDatabase } from './bench-database.ts';

const { values } = parseArgs({ options: {
  rows: { type: 'string', default: '100000' },
  from: { type: 'string', default: '384' },
  to: { type: 'string', default: '1024' },
} });
const ROWS = Number(values.rows);
const FROM = Number(values.from);
const TO = Number(values.to);

/** A constant-time "model": a unit vector seeded by the document's hash, so equal texts get equal vectors. */
function syntheticEncoder(dims: number, checksum: string): Encoder {
  const vec = (text: string): Float32Array => {
    let s = createHash('md5').update(text).digest().readUInt32LE(0);
    const v = new Float32Array(dims);
    let n = 0;
    for (let i = 0; i < dims; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      v[i] = s / 2 ** 32 - 0.5;
      n += v[i]! * v[i]!;
    }
    n = Math.sqrt(n);
    for (let i = 0; i < dims; i++) v[i]! /= n;
    return v;
  };
  return {
    info: { name: `synthetic-${dims}`, backend: 'local', dimensions: dims, pooling: 'cls', prompts: { query: '', document: '' },
      normalize: true, maxTokens: 512, checksum, version: '0', file: '', loadTimeSeconds: 0 },
    async encode(texts) { return { vectors: texts.map(vec), tokens: 0, truncated: 0 }; },
    async close() {},
  };
}

interface Sample { readonly at: number; readonly ms: number; readonly kind: 'pk' | 'similar'; readonly failed: boolean }

function readers(url: string, maxId: number): { stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  let stopping = false;
  const loop = async (kind: Sample['kind']) => {
    const c = new pg.Client({ connectionString: url, application_name: 'bench-reader' });
    await c.connect();
    let i = 0;
    while (!stopping) {
      const id = 1 + ((i++ * 7919) % maxId);
      const t = performance.now();
      let failed = false;
      try {
        if (kind === 'pk') await c.query('SELECT id, title FROM leads WHERE id = $1', [id]);
        else await c.query('SELECT id FROM embedsync.similar_to($1, 10)', [id]);
      } catch {
        failed = true;
      }
      samples.push({ at: t, ms: performance.now() - t, kind, failed });
      if (kind === 'pk') await new Promise((r) => setTimeout(r, 2));
    }
    await c.end();
  };
  const running = Promise.all([loop('pk'), loop('similar')]);
  return { async stop() { stopping = true; await running; return samples; } };
}

/**
 * The direct measure of blocking: every 10 ms, the lock waits of the reader connections (pg_locks.waitstart),
 * keeping the longest seen per wait. Query latency alone mixes in CPU contention on a busy machine.
 */
function lockWaits(url: string): { stop(): Promise<{ count: number; maxMs: number }> } {
  let stopping = false;
  const longest = new Map<string, number>();
  const running = (async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    while (!stopping) {
      const { rows } = await c.query<{ k: string; ms: number }>(
        `SELECT l.pid || ':' || l.waitstart AS k, extract(epoch FROM clock_timestamp() - l.waitstart) * 1000 AS ms
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE NOT l.granted AND l.waitstart IS NOT NULL AND a.application_name = 'bench-reader'`);
      for (const r of rows) longest.set(r.k, Math.max(longest.get(r.k) ?? 0, r.ms));
      await new Promise((res) => setTimeout(res, 10));
    }
    await c.end();
  })();
  return { async stop() { stopping = true; await running; return { count: longest.size, maxMs: Math.max(0, ...longest.values()) }; } };
}

const pct = (xs: number[], p: number) =>
  (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]! : 0);
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

async function main(): Promise<void> {
  await withBenchDatabase(async (url) => {
    const client = createClient({ databaseUrl: url });
    await client.connect();
    try {
      await run(client, url);
    } finally {
      await client.end();
    }
  });
}

async function run(client: pg.Client, url: string): Promise<void> {
  console.log(`embedsync migration benchmark: ${ROWS.toLocaleString('en-US')} rows, ${FROM} -> ${TO} dimensions, ivfflat`);
  console.log('vectors from a constant-time synthetic source (the tiny model would take minutes for this many rows)');
  const config = loadConfig({ DATABASE_URL: url });
  const oldEnc = syntheticEncoder(FROM, `synthetic${FROM}`.padEnd(16, '0').slice(0, 16));
  const newEnc = syntheticEncoder(TO, `synthetic${TO}`.padEnd(16, '0').slice(0, 16));
  await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  await client.query(`CREATE TABLE leads (id bigserial PRIMARY KEY, title text, description text, city text, price numeric,
    status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now())`);
  await client.query(`INSERT INTO leads (title, description, city, price)
    SELECT 'Квартира ' || g, 'Описание объекта номер ' || g || ', две комнаты, ремонт', (ARRAY['Москва','Казань','Сочи'])[1 + g % 3], g
    FROM generate_series(1, $1) g`, [ROWS]);
  await migrateSchema(client, config.source, oldEnc.info);
  const info = await inspectSource(client, config.source);
  const s = info.sql;
  const oid = await vectorTypeOid(client);

  // Old model's vectors, written the daemon's way (binary), then its index: the state before the change.
  const fill = async (enc: Encoder, sql = s): Promise<number> => {
    const ops = queueOps(client, sql, oid);
    const t0 = performance.now();
    for (let from = 0; from < ROWS; from += 2000) {
      const { rows } = await client.query<{ id: string; d: string; h: string }>(
        `SELECT id::text, ${s.document('t')} AS d, md5(${s.document('t')})::uuid::text AS h FROM leads t WHERE id > $1 AND id <= $2`,
        [from, from + 2000]);
      const vs = (await enc.encode(rows.map((r) => r.d), 'document')).vectors;
      await ops.write(rows.map((r, i) => ({ id: r.id, hash: r.h, vector: vs[i]! })), [], [], enc.info.checksum);
    }
    return (performance.now() - t0) / 1000;
  };
  const oldWrite = await fill(oldEnc);
  await client.query('VACUUM ANALYZE leads');
  const policy = { ...DEFAULT_INDEX_POLICY, maintenanceWorkMem: config.source.indexBuildMemory };
  const oldIndex = await ensureIndex(client, s, 'embedding', policy, { dimensions: FROM });
  await installSearchFunctions(client, s);
  console.log(`setup: ${FROM}-dim vectors written in ${f1(oldWrite)}s, ` +
    `index lists ${oldIndex.lists} built in ${f1(oldIndex.buildSeconds ?? 0)}s`);

  const maxId = ROWS;
  const r = readers(url, maxId);
  const waits = lockWaits(url);
  await new Promise((res) => setTimeout(res, 3000)); // baseline
  const marks: { step: string; at: number }[] = [{ step: 'baseline', at: 0 }];
  const t0 = performance.now();
  marks.push({ step: 'started', at: t0 });
  // A light stream of edits while the migration runs (10/s): the catch-up pass and the post-swap sweep see them.
  let editing = true;
  const editor = (async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    for (let i = 0; editing; i++) {
      await c.query(`UPDATE leads SET title = title || '.' WHERE id = $1`, [1 + ((i * 104729) % maxId)]).catch(() => undefined);
      await new Promise((res) => setTimeout(res, 100));
    }
    await c.end();
  })();
  let lockRetries = 0;
  const result: ShadowMigrationResult = await runShadowMigration({
    client, source: config.source, sql: s, encoder: newEnc, vectorOid: oid, policy, chunkSize: 2000,
    onStep: (step) => { marks.push({ step: `after ${step}`, at: performance.now() }); },
    onLockRetry: () => { lockRetries += 1; },
  });
  const total = (performance.now() - t0) / 1000;
  editing = false;
  await editor;
  await new Promise((res) => setTimeout(res, 1000));
  const samples = await r.stop();
  const lockWait = await waits.stop();

  // Bare parts on the same data: the binary write of all new vectors and a plain CREATE INDEX with the same lists.
  await client.query(`ALTER TABLE leads ADD COLUMN bare vector(${TO}), ADD COLUMN bare_checksum text, ADD COLUMN bare_hash uuid`);
  const bareSql = { ...s, embedding: '"bare"', checksum: '"bare_checksum"', textHash: '"bare_hash"' };
  const bareWrite = await fill(newEnc, bareSql);
  await client.query(`SET maintenance_work_mem = '${policy.maintenanceWorkMem}'`);
  const lists = result.index?.lists ?? 100;
  const tb = performance.now();
  await client.query(`CREATE INDEX bare_idx ON leads USING ivfflat (bare vector_cosine_ops) WITH (lists = ${lists})`);
  const bareIndex = (performance.now() - tb) / 1000;
  const tinyRate = await tinyModelRate();

  const phase = (i: number) => marks.filter((m) => m.at <= i).at(-1)!.step;
  const during = samples.filter((x) => x.at >= t0);
  const before = samples.filter((x) => x.at < t0);
  const failed = samples.filter((x) => x.failed).length;
  console.log(`\nreaders: ${samples.length} queries, ${failed} failed; ${lockRetries} lock waits gave up and were retried`);
  for (const kind of ['pk', 'similar'] as const) {
    const b = before.filter((x) => x.kind === kind).map((x) => x.ms);
    const d = during.filter((x) => x.kind === kind);
    const worst = d.reduce((w, x) => (x.ms > w.ms ? x : w), d[0]!);
    console.log(`  ${kind === 'pk' ? 'primary-key lookup' : 'similar_to(id, 10)'}: ` +
      `before p50 ${f1(pct(b, 0.5))} ms, max ${f1(Math.max(...b))} ms;` +
      ` during p50 ${f1(pct(d.map((x) => x.ms), 0.5))} ms, p99 ${f1(pct(d.map((x) => x.ms), 0.99))} ms, ` +
      `max ${f1(worst.ms)} ms (in step ${phase(worst.at)})`);
  }
  const byStep = new Map<string, number>();
  for (const x of during.filter((y) => y.kind === 'pk')) byStep.set(phase(x.at), Math.max(byStep.get(phase(x.at)) ?? 0, x.ms));
  console.log(`  longest primary-key lookup per step: ${[...byStep].map(([k, v]) => `${k} ${f1(v)} ms`).join(', ')}`);
  console.log(`  reader lock waits (pg_locks, sampled every 10 ms): ${lockWait.count}, longest ${f1(lockWait.maxMs)} ms ` +
    `(target < 100 ms: ${lockWait.maxMs < 100 ? 'met' : 'NOT met'}); latency spikes beyond that are CPU contention, not locks`);

  console.log(`\nmigration steps: ${result.steps.map((x) => `${x.step} ${f2(x.seconds)}s`).join(', ')}`);
  console.log(`index build (CONCURRENTLY, lists ${lists}): ${f2(result.index?.buildSeconds ?? 0)}s; bare CREATE INDEX: ${f2(bareIndex)}s`);
  const parts = result.encodeSeconds + bareWrite + bareIndex;
  console.log(`total ${f1(total)}s vs sum of parts ${f1(parts)}s ` +
    `(encode ${f2(result.encodeSeconds)}s + bare binary write ${f1(bareWrite)}s + bare index ${f1(bareIndex)}s): ` +
    `${f2(total / parts)}x`);
  console.log(`with the tiny test model (${Math.round(tinyRate)} rows/s on one thread here) ` +
    `encoding alone would add ~${Math.round(ROWS / tinyRate)}s;` +
    ' the migration adds the same overhead on top, so the real cost is dominated by the model');
}

async function tinyModelRate(): Promise<number> {
  const enc = await createEncoder(loadConfig({ EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1' }).model);
  try {
    const docs = Array.from({ length: 512 }, (_, g) => `Квартира ${g}. Описание объекта номер ${g}, две комнаты, ремонт`);
    await enc.encode(docs.slice(0, 32), 'document');
    const t = performance.now();
    for (let i = 0; i < docs.length; i += 128) await enc.encode(docs.slice(i, i + 128), 'document');
    return docs.length / ((performance.now() - t) / 1000);
  } finally {
    await enc.close();
  }
}

await main();
