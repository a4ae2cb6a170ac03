// Sync benchmark (prints figures; not a test). All paths run in one process against one database:
//  1. Trigger cost: bulk INSERT rows/s bare, with embedsync's statement-level triggers, and with a
//     row-level queue trigger + per-row pg_notify (the shape we avoided), plus an UPDATE of a non-text column.
//  2. Write path, 768-dim vectors, same batch size for all:
//     (a) UPDATE ... FROM unnest($1::bigint[], $2::vector[]) with text-format vectors,
//     (b) binary COPY into a temp staging table, then UPDATE ... FROM staging,
//     (c) the daemon end to end (claim, read text, skip-check, write in binary, dequeue) with the encoder
//         replaced by a constant-time vector source, draining a backlog of all rows. Target: (c) >= 80% of (b).
//  3. insert -> embedded latency (p50/p99) under a light stream (10 rows/s) with the tiny model.
// Uses DATABASE_URL when set (creates and drops a scratch database there), else a throwaway cluster.
//   usage: npm run bench:sync [-- --rows 100000 --batch 500 --text-rows 20000 --stream 150 --rounds 2 --workers 2]
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { loadConfig } from '../src/config/index.ts';
import { createEncoder } from '../src/encoder/index.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { createLogger } from '../src/log/index.ts';
import { createMetrics } from '../src/metrics/index.ts';
import { TINY_MODEL_DIR } from '../test/support/tiny-model-dir.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { createClient, createPool } from '../src/db/pool.ts';
import { encodeVector } from '../src/db/vector-binary.ts';
import { enqueueUnsynced } from '../src/queue/sweep.ts';
import { startSyncDaemon } from '../src/sync/daemon.ts';
import { withBenchDatabase } from './bench-database.ts';

const { values } = parseArgs({ options: {
  rows: { type: 'string', default: '100000' },
  batch: { type: 'string', default: '500' },
  'text-rows': { type: 'string', default: '20000' },
  stream: { type: 'string', default: '150' },
  rounds: { type: 'string', default: '2' },
  workers: { type: 'string', default: '2' },
} });
const ROWS = Number(values.rows);
const BATCH = Number(values.batch);
const TEXT_ROWS = Math.min(ROWS, Number(values['text-rows']));
const STREAM = Number(values.stream);
const ROUNDS = Number(values.rounds);
const WORKERS = Number(values.workers);
const DIMS = 768;

const LEADS = (name: string) => `CREATE TABLE ${name} (id bigserial PRIMARY KEY, title text, description text, city text,
  price numeric, status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now())`;
const FILL = (name: string, n: number) => `INSERT INTO ${name} (title, description, city, price)
  SELECT 'Квартира ' || g, 'Описание объекта номер ' || g || ', две комнаты, ремонт', 'Москва', g FROM generate_series(1, ${n}) g`;

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
const fmt = (n: number) => n.toLocaleString('en-US');

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function unitVector(seed: number): Float32Array {
  const v = new Float32Array(DIMS);
  let s = seed;
  for (let i = 0; i < DIMS; i++) v[i] = ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** The encoder replaced by a constant-time vector source, so the database path is what gets measured. */
function constantEncoder(): Encoder {
  const v = unitVector(7);
  return {
    info: { name: 'constant-768', backend: 'local', dimensions: DIMS, pooling: 'mean', prompts: { query: '', document: '' },
      normalize: true, maxTokens: 512, checksum: 'constant00000768', version: '0', file: '', loadTimeSeconds: 0 },
    async encode(texts) { return { vectors: texts.map(() => v), tokens: 0, truncated: 0 }; },
    async close() {},
  };
}

async function main(): Promise<void> {
  await withBenchDatabase(async (url) => {
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      await db.query('CREATE EXTENSION IF NOT EXISTS vector');
      console.log(`embedsync sync benchmark: ${fmt(ROWS)} rows, ${DIMS}-dim vectors, batch ${BATCH}`);
      await triggerCost(db, url);
      await writePaths(db, url);
      await latency(url);
    } finally {
      await db.end();
    }
  });
}

async function migrateTable(url: string, table: string, enc: Pick<Encoder, 'info'>) {
  const config = loadConfig({ EMBEDSYNC_TABLE: table, DATABASE_URL: url });
  const c = createClient({ databaseUrl: url });
  await c.connect();
  try {
    return { config, result: await migrateSchema(c, config.source, enc.info) };
  } finally {
    await c.end();
  }
}

async function triggerCost(db: pg.Client, url: string): Promise<void> {
  const n = ROWS;
  await db.query(LEADS('t_bare'));
  await db.query(LEADS('t_sync'));
  await db.query(LEADS('t_rowlevel'));
  await migrateTable(url, 't_sync', constantEncoder());
  // The per-row shape for comparison: one queue upsert and one notify per row.
  await db.query(`CREATE TABLE rowq (id text PRIMARY KEY, version bigint NOT NULL DEFAULT 1)`);
  await db.query(`CREATE FUNCTION rowq_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    INSERT INTO rowq (id) VALUES (NEW.id::text) ON CONFLICT (id) DO UPDATE SET version = rowq.version + 1;
    PERFORM pg_notify('rowq', NEW.id::text); RETURN NULL; END $$`);
  await db.query(`CREATE TRIGGER rowq_t AFTER INSERT ON t_rowlevel FOR EACH ROW EXECUTE FUNCTION rowq_fn()`);
  // The per-row queue alone (no notify), into a table shaped like embedsync.queue: the "queue-only" figure.
  await db.query(LEADS('t_rowqueue'));
  await db.query(`CREATE TABLE rowq2 (LIKE embedsync.queue INCLUDING ALL)`);
  await db.query(`CREATE FUNCTION rowq2_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    INSERT INTO rowq2 AS q (source, id) VALUES ('public.t_rowqueue', NEW.id::text)
      ON CONFLICT (source, id) DO UPDATE SET version = excluded.version;
    RETURN NULL; END $$`);
  await db.query(`CREATE TRIGGER rowq2_t AFTER INSERT ON t_rowqueue FOR EACH ROW EXECUTE FUNCTION rowq2_fn()`);
  // Interleaved rounds, best of 3, in 10,000-row statements.
  const best: Record<string, number> = {};
  for (let round = 0; round < 3; round++) {
    for (const t of ['t_bare', 't_sync', 't_rowqueue', 't_rowlevel']) {
      await db.query(`TRUNCATE ${t}`);
      if (t === 't_rowlevel') await db.query('TRUNCATE rowq');
      if (t === 't_rowqueue') await db.query('TRUNCATE rowq2');
      const ms = await timed(async () => {
        for (let done = 0; done < n; done += 10_000) {
          await db.query(FILL(t, Math.min(10_000, n - done)));
        }
      });
      best[t] = Math.min(best[t] ?? Infinity, ms);
    }
  }
  // TRUNCATE fires the sync truncate trigger, which clears the queue; the last round refilled it.
  const queued = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.queue')).rows[0]!.n;
  const upd: Record<string, number> = {};
  for (let round = 0; round < 3; round++) {
    for (const t of ['t_bare', 't_sync']) {
      const ms = await timed(() => db.query(`UPDATE ${t} SET price = price + 1`));
      upd[t] = Math.min(upd[t] ?? Infinity, ms);
    }
  }
  const queuedAfter = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.queue')).rows[0]!.n;
  console.log('\n1. trigger cost (bulk INSERT of 10,000-row statements, best of 3)');
  console.log(`   bare                                  ${fmt(rate(n, best.t_bare!))} rows/s`);
  console.log(`   embedsync statement-level triggers    ${fmt(rate(n, best.t_sync!))} rows/s  ` +
    `(${(best.t_sync! / best.t_bare! * 100 - 100).toFixed(0)}% slower than bare; ${fmt(queued)} queued)`);
  console.log(`   row-level queue trigger (queue only)  ${fmt(rate(n, best.t_rowqueue!))} rows/s  ` +
    `(${(best.t_rowqueue! / best.t_bare! * 100 - 100).toFixed(0)}% slower than bare)`);
  console.log(`   row-level queue trigger + notify      ${fmt(rate(n, best.t_rowlevel!))} rows/s  ` +
    `(${(best.t_rowlevel! / best.t_bare! * 100 - 100).toFixed(0)}% slower than bare)`);
  console.log(`   embedsync vs row-level queue only: ${(best.t_rowqueue! / best.t_sync!).toFixed(2)}x the throughput`);
  console.log(`   UPDATE of a non-text column, ${fmt(n)} rows: bare ${upd.t_bare!.toFixed(0)} ms, ` +
    `with triggers ${upd.t_sync!.toFixed(0)} ms; rows enqueued by it: ${queuedAfter - queued}`);
  await db.query('DROP TABLE t_bare, t_sync, t_rowlevel, t_rowqueue, rowq, rowq2 CASCADE; DROP FUNCTION rowq_fn(), rowq2_fn(); ' +
    'DROP SCHEMA embedsync CASCADE');
}

async function writePaths(db: pg.Client, url: string): Promise<void> {
  const vec = unitVector(7);
  const vecText = `[${Array.from(vec).join(',')}]`;
  for (const t of ['w_text', 'w_copy', 'leads']) {
    await db.query(LEADS(t));
    await db.query(FILL(t, t === 'w_text' ? TEXT_ROWS : ROWS));
    if (t !== 'leads') await db.query(`ALTER TABLE ${t} ADD COLUMN embedding vector(${DIMS})`);
    await db.query(`VACUUM ANALYZE ${t}`);
  }
  // (a) text-format vectors through unnest (once: it is the slow reference).
  const aMs = await timed(async () => {
    for (let lo = 1; lo <= TEXT_ROWS; lo += BATCH) {
      const ids = Array.from({ length: Math.min(BATCH, TEXT_ROWS - lo + 1) }, (_, i) => lo + i);
      await db.query(`UPDATE w_text t SET embedding = u.e FROM unnest($1::bigint[], $2::vector[]) AS u(id, e) WHERE t.id = u.id`,
        [ids, ids.map(() => vecText)]);
    }
  });
  await db.query('DROP TABLE w_text');

  // (b) binary COPY into a temp staging table, then UPDATE ... FROM staging.
  await db.query(`CREATE TEMP TABLE staging (id bigint, embedding vector(${DIMS})) ON COMMIT DELETE ROWS`);
  const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
  const trailer = Buffer.from([0xff, 0xff]);
  const runCopy = () => timed(async () => {
    for (let lo = 1; lo <= ROWS; lo += BATCH) {
      const n = Math.min(BATCH, ROWS - lo + 1);
      const parts: Buffer[] = [header];
      for (let i = 0; i < n; i++) {
        const v = encodeVector(vec);
        const row = Buffer.alloc(2 + 4 + 8 + 4);
        row.writeInt16BE(2, 0);
        row.writeInt32BE(8, 2);
        row.writeBigInt64BE(BigInt(lo + i), 6);
        row.writeInt32BE(v.length, 14);
        parts.push(row, v);
      }
      parts.push(trailer);
      await db.query('BEGIN');
      await pipeline(Readable.from([Buffer.concat(parts)]), db.query(copyFrom('COPY staging FROM STDIN (FORMAT binary)')));
      await db.query('UPDATE w_copy t SET embedding = s.embedding FROM staging s WHERE t.id = s.id');
      await db.query('COMMIT');
    }
  });

  // (c) the daemon, end to end, draining a backlog of every row. Each round uses a new model checksum, so
  // the sweep finds every row stale and enqueues it (not timed: the backlog is the starting point).
  const first = constantEncoder();
  const { config, result } = await migrateTable(url, 'leads', first);
  const pool = createPool({ databaseUrl: url, max: 4 });
  const sync = { ...config.sync, batchSize: BATCH, pollIntervalMs: 100, debounceMs: 0, workers: WORKERS };
  const runDaemon = async (round: number) => {
    const enc = { ...first, info: { ...first.info, checksum: `constant${String(round).padStart(8, '0')}` } };
    // As `migrate` records a same-dimension model change; the daemon only writes for the recorded model.
    await migrateTable(url, 'leads', enc);
    const backlog = await enqueueUnsynced(pool, result.source.sql, enc.info.checksum);
    // As `embedsync migrate` does after a large backfill: the queue's statistics describe the backlog.
    await pool.query('ANALYZE embedsync.queue');
    const daemon = await startSyncDaemon({ pool, encoder: enc, source: config.source, sync,
      logger: createLogger('silent'), connectListener: () => createClient({ databaseUrl: url }) });
    // Timed from here: the daemon is up (its first claim may already be running) and drains the backlog.
    const ms = await timed(async () => {
      for (;;) {
        // Whether anything is left, not how much: a count of the whole queue every 20 ms would cost the
        // database a good part of a core and slow down what is being measured.
        const left = (await pool.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM embedsync.queue) AS any')).rows[0]!.any;
        if (!left) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    await daemon.stop();
    const written = (await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM leads WHERE embedding IS NOT NULL AND model_checksum = $1`, [enc.info.checksum])).rows[0]!.n;
    if (written !== ROWS || backlog.enqueued !== ROWS) {
      throw new Error(`daemon round ${round}: ${backlog.enqueued} enqueued, ${written} written, expected ${ROWS}`);
    }
    return ms;
  };

  // Interleaved rounds, best of each, so load from elsewhere on the machine hits both alike.
  const bMs: number[] = [];
  const cMs: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    bMs.push(await runCopy());
    cMs.push(await runDaemon(round));
  }
  await pool.end();
  await db.query('DROP TABLE w_copy, leads CASCADE; DROP SCHEMA embedsync CASCADE');

  const a = rate(TEXT_ROWS, aMs), b = rate(ROWS, Math.min(...bMs)), c = rate(ROWS, Math.min(...cMs));
  const each = (ms: number[]) => ms.map((x) => fmt(rate(ROWS, x))).join(', ');
  console.log(`\n2. write path, ${DIMS}-dim vectors, ${BATCH} rows per batch, best of ${ROUNDS} interleaved rounds`);
  console.log(`   (a) UPDATE FROM unnest, text vectors     ${fmt(a)} rows/s  (${fmt(TEXT_ROWS)} rows, once)`);
  console.log(`   (b) binary COPY + UPDATE FROM staging    ${fmt(b)} rows/s  (${fmt(ROWS)} rows; rounds: ${each(bMs)})`);
  console.log(`   (c) daemon end to end (constant vectors) ${fmt(c)} rows/s  ` +
    `(${fmt(ROWS)} rows, EMBEDSYNC_WORKERS=${WORKERS}; rounds: ${each(cMs)})`);
  console.log(`   (c)/(b) = ${(c / b * 100).toFixed(0)}%  (target >= 80%);  (c)/(a) = ${(c / a).toFixed(1)}x`);
}

async function latency(url: string): Promise<void> {
  const pool = createPool({ databaseUrl: url, max: 4 });
  await pool.query(LEADS('leads'));
  const encoder = await createEncoder(loadConfig({ EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1' }).model);
  const { config } = await migrateTable(url, 'leads', encoder);
  const metrics = createMetrics({ defaultMetrics: false });
  const lags: number[] = [];
  // Record every change -> embedding lag the daemon measures (clock_timestamp() at dequeue minus the
  // change's transaction time, both on the server clock).
  const observe = metrics.changeToEmbeddingSeconds.observe.bind(metrics.changeToEmbeddingSeconds);
  metrics.changeToEmbeddingSeconds.observe = ((v: number) => { lags.push(v * 1000); observe(v); }) as typeof observe;
  const daemon = await startSyncDaemon({ pool, encoder, source: config.source, sync: config.sync, logger: createLogger('silent'), metrics,
    connectListener: () => createClient({ databaseUrl: url }) });
  await new Promise((r) => setTimeout(r, 300));
  const started = performance.now();
  for (let i = 0; i < STREAM; i++) {
    const due = started + i * 100;
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    await pool.query(`INSERT INTO leads (title, description) VALUES ($1, $2)`,
      [`Лид номер ${i}`, `New lead ${i}, two rooms, near the metro`]);
  }
  const until = Date.now() + 5000;
  while (lags.length < STREAM && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  await daemon.stop();
  await encoder.close();
  await pool.end();
  lags.sort((x, y) => x - y);
  const pct = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))]!;
  console.log(`\n3. insert -> embedded, tiny model, 10 rows/s for ${STREAM / 10} s (debounce ${config.sync.debounceMs} ms)`);
  console.log(`   p50 ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms, max ${lags[lags.length - 1]!.toFixed(1)} ms  ` +
    `(${lags.length}/${STREAM} rows; targets p50 < 100 ms, p99 < 250 ms)`);
}

await main();
