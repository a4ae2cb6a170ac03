// Remote encoder benchmark (prints figures; not a test): rows/s of one sync daemon draining a backlog
//   - with the encoder replaced by a constant-time vector source (the pipeline's own ceiling),
//   - encoding locally (in-process ONNX),
//   - using a remote embedsync (`embedsync run --no-sync` in its own process, loopback) with 1, 2 and 4
//     requests in flight (EMBEDDING_CONCURRENCY),
//   - using a remote that answers at once (constant vectors, OpenAI protocol, own process): the HTTP path's
//     own ceiling, i.e. what a remote far faster than this machine (a GPU pool) could deliver at most,
// all in one run on one database, so the ratios say where the pipeline, not the encoder, is the limit.
// Uses DATABASE_URL when set (creates and drops a scratch database there), else a throwaway cluster.
//   usage: npm run bench:remote [-- --rows 5000 --batch 128 --model DIR]
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig, type Env } from '../src/config/index.ts';
import { createEncoder } from '../src/encoder/index.ts';
import type { RemoteEncoder } from '../src/encoder/remote/index.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { createLogger } from '../src/log/index.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { createClient, createPool } from '../src/db/pool.ts';
import { startSyncDaemon } from '../src/sync/daemon.ts';
import { TINY_MODEL_DIR } from '../test/support/tiny-model-dir.ts';
import { withBenchDatabase } from './bench-database.ts';
import { freePort } from '../scripts/free-port.ts';

const { values } = parseArgs({ options: {
  rows: { type: 'string', default: '5000' },
  batch: { type: 'string', default: '128' },
  model: { type: 'string', default: TINY_MODEL_DIR },
} });
const ROWS = Number(values.rows);
const BATCH = String(Number(values.batch));
const MODEL = values.model;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');


/** Daemon B: the real CLI, HTTP half only, with the cache off (every scenario encodes the same texts). */
async function startRemote(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const env = {
    ...process.env, EMBEDDING_MODEL: MODEL, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn',
    RATE_LIMIT: '1000000/second', RATE_LIMIT_BATCH: '1000000/second', CACHE_ENABLED: 'false', MAX_BATCH_SIZE: BATCH,
    MAX_CONCURRENT_REQUESTS: '8', EMBEDDING_BACKEND: 'local',
  };
  const child = spawn(process.execPath, ['bin/embedsync.js', 'run', '--no-sync'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`${url}/ready`).then((r) => r.ok, () => false);
    if (ok) return { url, child };
    if (child.exitCode !== null) throw new Error(`embedsync run --no-sync exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  throw new Error('remote embedsync did not become ready');
}

/**
 * An OpenAI-compatible server in its own process that answers every input with the same unit vector at once:
 * what the HTTP path itself carries (JSON, base64, keep-alive, requests in flight) when the encoder costs nothing.
 */
async function startConstantRemote(dimensions: number): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const script = `
    const v = new Float32Array(${dimensions}); v[0] = 1;
    const b64 = Buffer.from(v.buffer).toString('base64');
    require('node:http').createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const input = JSON.parse(Buffer.concat(chunks).toString()).input;
        const data = input.map((_, index) => ({ object: 'embedding', index, embedding: b64 }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data, model: 'constant', usage: { prompt_tokens: 0, total_tokens: 0 } }));
      });
    }).listen(${port}, '127.0.0.1');`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`${url}/v1/embeddings`, { method: 'POST', body: '{"input":["x"]}' }).then((r) => r.ok, () => false);
    if (up) return { url, child };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGTERM');
  throw new Error('constant remote did not start');
}

function constantEncoder(like: Encoder): Encoder {
  const v = new Float32Array(like.info.dimensions);
  v[0] = 1;
  return {
    info: { ...like.info, name: 'constant', checksum: 'constant00000000' },
    async encode(texts) { return { vectors: texts.map(() => v), tokens: 0, truncated: 0 }; },
    async close() {},
  };
}

/** Fresh table, `rows` rows queued by the triggers, one daemon draining it; rows/s from start to empty queue. */
async function drain(url: string, table: string, encoder: Encoder): Promise<number> {
  const env: Env = {
    DATABASE_URL: url, EMBEDSYNC_TABLE: table, EMBEDSYNC_BATCH_SIZE: BATCH, MAX_BATCH_SIZE: BATCH,
    EMBEDSYNC_POLL_INTERVAL_MS: '100', EMBEDSYNC_DEBOUNCE_MS: '5',
  };
  const config = loadConfig(env);
  const pool = createPool({ databaseUrl: url, max: 4 });
  try {
    await pool.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, title text, description text)`);
    const c = createClient({ databaseUrl: url });
    await c.connect();
    await migrateSchema(c, config.source, { name: encoder.info.name, checksum: encoder.info.checksum, dimensions: encoder.info.dimensions })
      .finally(() => c.end());
    await pool.query(`INSERT INTO ${table} (title, description)
      SELECT 'Квартира ' || g, 'Описание объекта номер ' || g || ', две комнаты, ремонт, рядом метро и парк'
      FROM generate_series(1, $1::int) g`, [ROWS]);
    const queued = async () => (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM embedsync.queue`)).rows[0]!.n;
    if ((await queued()) !== ROWS) throw new Error('backlog not queued');
    const started = performance.now();
    const daemon = await startSyncDaemon({
      pool, encoder, source: config.source, sync: config.sync, logger: createLogger('warn'),
      connectListener: () => createClient({ databaseUrl: url }),
    });
    while ((await queued()) > 0) await new Promise((r) => setTimeout(r, 20));
    const ms = performance.now() - started;
    await daemon.stop();
    const done = (await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} WHERE model_checksum = $1 AND embedding IS NOT NULL`, [encoder.info.checksum])).rows[0]!.n;
    if (done !== ROWS) throw new Error(`${table}: ${done} of ${ROWS} rows embedded`);
    await pool.query(`DELETE FROM embedsync.state`);
    return ROWS / (ms / 1000);
  } finally {
    await pool.end();
  }
}

async function main(): Promise<void> {
  await withBenchDatabase(run);
}

async function run(url: string): Promise<void> {
  let remote: { url: string; child: ChildProcess } | undefined;
  let constantRemote: { url: string; child: ChildProcess } | undefined;
  const encoders: Encoder[] = [];
  try {
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    await db.query('CREATE EXTENSION IF NOT EXISTS vector');
    await db.end();
    remote = await startRemote();
    const local = await createEncoder(loadConfig({ EMBEDDING_MODEL: MODEL }, { cores: 2 }).model);
    encoders.push(local);
    console.log(`embedsync remote benchmark: ${fmt(ROWS)} rows, batch ${BATCH}, ` +
      `model ${local.info.name} (${local.info.dimensions} dims), local threads 2, remote = \`embedsync run --no-sync\` on loopback`);

    const results: [string, number][] = [];
    const measure = async (label: string, table: string, enc: Encoder) => {
      const r = await drain(url, table, enc);
      results.push([label, r]);
      console.log(`  ${label.padEnd(48)} ${fmt(r).padStart(7)} rows/s`);
    };
    await measure('pipeline ceiling (constant vectors)', 'bench_constant', constantEncoder(local));
    await measure('local encoder (in-process ONNX)', 'bench_local', local);
    for (const c of [1, 2, 4]) {
      const enc = await createEncoder(loadConfig({
        EMBEDDING_BACKEND: 'embedsync', EMBEDDING_ENDPOINT: remote.url, EMBEDDING_CONCURRENCY: String(c),
      }).model);
      encoders.push(enc);
      await measure(`remote embedsync, ${c} request${c > 1 ? 's' : ''} in flight`, `bench_remote_${c}`, enc);
      console.log(`    (peak requests in flight: ${(enc as RemoteEncoder).peakInFlight})`);
    }
    constantRemote = await startConstantRemote(local.info.dimensions);
    for (const c of [1, 4]) {
      const enc = await createEncoder(loadConfig({
        EMBEDDING_BACKEND: 'openai', EMBEDDING_ENDPOINT: constantRemote.url, EMBEDDING_CONCURRENCY: String(c),
        EMBEDDING_REMOTE_BATCH_SIZE: BATCH,
      }).model);
      encoders.push(enc);
      await measure(`instant remote (HTTP path only), ${c} in flight`, `bench_instant_${c}`, enc);
    }
    // The ceiling once more at the end: on a shared machine the first figure alone can mislead.
    await measure('pipeline ceiling again (constant vectors)', 'bench_constant_2', constantEncoder(local));
    const localRate = results[1]![1];
    const ceiling = Math.max(results[0]![1], results.at(-1)![1]);
    results.pop();
    console.log('  ratios:');
    for (const [label, r] of results.slice(2)) {
      console.log(`    ${label.padEnd(46)} ${(r / localRate).toFixed(2)}× local, ` +
        `${((r / ceiling) * 100).toFixed(0)}% of the pipeline ceiling`);
    }
    console.log(`    ${'local encoder'.padEnd(46)} ${((localRate / ceiling) * 100).toFixed(0)}% of the pipeline ceiling`);
    console.log('  (ceiling = the better of the two constant-vector runs; ' +
      `load average at the end ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores)`);
  } finally {
    for (const e of encoders) await e.close().catch(() => undefined);
    for (const r of [remote, constantRemote]) {
      if (!r || r.child.exitCode !== null) continue;
      r.child.kill('SIGTERM');
      await new Promise((resolve) => r.child.once('exit', resolve));
    }
  }
}

await main();
