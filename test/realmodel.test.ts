// With a model whose runs take real time (6 layers, hidden 768, int8: test/helpers/real-model.ts), the process
// stays responsive: health and metrics answer within 250 ms while a backlog is being encoded, a short query is
// not queued behind the whole backlog, the first vectors land within seconds, SIGTERM mid-backlog exits 0
// within the shutdown budget with every row either written or back in the queue, and a worker that dies is
// replaced with its rows retried. The test model's microsecond runs would hide every one of these.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { createEncoder, EncodeError, type WorkerExit } from '../src/encoder/index.ts';
import { createTestDatabase, LEADS_DDL } from './helpers/db.ts';
import { midModelDir } from './helpers/real-model.ts';
import { setupSyncDb, waitFor } from './helpers/sync.ts';
import { freePort } from '../scripts/free-port.ts';

const ROWS = 400;
const SHUTDOWN_MS = 5000;


/** Lead-like rows of 30–200 tokens, Russian and English. */
const BACKLOG_SQL = `INSERT INTO leads (title, description, city)
  SELECT 'Lead ' || g || ': двухкомнатная квартира у метро, ' || (30 + g % 70) || ' м²',
         repeat('Client asks for a viewing this week, prefers a quiet street, budget negotiable. Нужна ипотека, звонить после 18:00. ',
           1 + g % 6),
         (ARRAY['Москва', 'Казань', 'London'])[1 + g % 3]
  FROM generate_series(1, $1::int) g`;

async function timedFetch(url: string, init?: RequestInit): Promise<{ ms: number; status: number }> {
  const started = performance.now();
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  await r.arrayBuffer();
  return { ms: performance.now() - started, status: r.status };
}

const pct = (xs: readonly number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

test('a real-sized model: responsive while encoding a backlog, first vectors in seconds, ' +
  'SIGTERM within budget with nothing lost', async () => {
  const model = await midModelDir();
  const db = await createTestDatabase('realmodel');
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const port = await freePort();
  const env = {
    ...process.env, DATABASE_URL: db.url, EMBEDDING_MODEL: model, EMBEDDING_DTYPE: 'int8', PORT: String(port), HOST: '127.0.0.1',
    EMBEDSYNC_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_MS), EMBEDSYNC_POLL_INTERVAL_MS: '200', LOG_LEVEL: 'warn',
    RATE_LIMIT: '100000/minute',
  };
  try {
    await pool.query(LEADS_DDL);
    await pool.query(BACKLOG_SQL, [ROWS]);
    const migrate = spawn(process.execPath, ['bin/embedsync.js', 'migrate'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let migrateErr = '';
    migrate.stderr.on('data', (b: Buffer) => { migrateErr += b.toString(); });
    assert.equal((await once(migrate, 'exit'))[0], 0, migrateErr);

    const started = performance.now();
    const run = spawn(process.execPath, ['bin/embedsync.js', 'run'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let runErr = '';
    run.stderr.on('data', (b: Buffer) => { runErr += b.toString(); });
    const exited = once(run, 'exit');

    const embedded = async () => (await pool.query<{ n: number }>('SELECT count(embedding)::int AS n FROM leads')).rows[0]!.n;
    await waitFor('the first vector', async () => (await embedded()) > 0, 60_000, 100);
    const firstVectorS = (performance.now() - started) / 1000;

    // Probes while the backlog is being encoded: the main thread must not be the one running the model.
    const probes: number[] = [];
    let probing = true;
    const prober = (async () => {
      for (let i = 0; probing; i++) {
        const r = await timedFetch(`http://127.0.0.1:${port}/${i % 2 ? 'metrics' : 'health'}`);
        assert.equal(r.status, 200);
        probes.push(r.ms);
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    // A short query arriving behind the backlog waits for runs in flight, not for the backlog.
    const queries: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await timedFetch(`http://127.0.0.1:${port}/embed`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `квартира у метро ${i}` }),
      });
      assert.equal(r.status, 200);
      queries.push(r.ms);
    }
    await new Promise((res) => setTimeout(res, 3000));
    probing = false;
    await prober;
    const before = await embedded();
    assert.ok(before < ROWS, `the backlog is still being encoded when SIGTERM arrives (${before} of ${ROWS})`);

    const termAt = performance.now();
    run.kill('SIGTERM');
    const [code] = await exited;
    const shutdownMs = performance.now() - termAt;
    if (process.env.EMBEDSYNC_TEST_LOG) {
      console.log(JSON.stringify({
        firstVectorS, probes: probes.length, p50: pct(probes, 0.5), p90: pct(probes, 0.9), max: Math.max(...probes), queries, shutdownMs,
        before,
      }));
    }

    assert.equal(code, 0, runErr);
    assert.ok(shutdownMs <= SHUTDOWN_MS, `exited ${shutdownMs.toFixed(0)} ms after SIGTERM (budget ${SHUTDOWN_MS} ms)`);
    assert.ok(firstVectorS < 15, `first vector ${firstVectorS.toFixed(1)} s after start (model load included)`);
    assert.ok(probes.length >= 20, `${probes.length} probes`);
    // Within 250 ms; the slowest few may also wait for a core on a busy machine (the OS, not the model: a run on
    // the main thread would hold every probe for its whole length, over a second here).
    const summary = `p50 ${pct(probes, 0.5).toFixed(0)} ms, p95 ${pct(probes, 0.95).toFixed(0)} ms, ` +
      `max ${Math.max(...probes).toFixed(0)} ms`;
    assert.ok(pct(probes, 0.95) < 250, `health/metrics while encoding: ${summary}`);
    assert.ok(Math.max(...probes) < 1000, `health/metrics while encoding: ${summary}`);
    assert.ok(Math.max(...queries) < 5000, `a short /embed behind the backlog took ${queries.map((q) => q.toFixed(0)).join(', ')} ms`);
    // Nothing lost: every row is written or queued and claimable now (released, not leased by the dead process).
    const { rows: [left] } = await pool.query<{ missing: number; unqueued: number; leased: number }>(`
      SELECT count(*) FILTER (WHERE l.embedding IS NULL)::int AS missing,
             count(*) FILTER (WHERE l.embedding IS NULL AND q.id IS NULL)::int AS unqueued,
             count(*) FILTER (WHERE q.lease_owner IS NOT NULL)::int AS leased
      FROM leads l LEFT JOIN embedsync.queue q ON q.id = l.id::text`);
    assert.ok(left!.missing > 0);
    assert.equal(left!.unqueued, 0, 'every row without a vector is still queued');
    assert.equal(left!.leased, 0, 'claimed rows were given back at shutdown');
  } finally {
    await pool.end();
    await db.drop();
  }
});

test('a worker that dies fails only its run, is replaced, and the sync worker retries its rows', async () => {
  const model = await midModelDir();
  const exits: WorkerExit[] = [];
  // Small model calls (each text alone), so the worker dies between two calls of a run, as a crash mid-run would.
  const encoder = await createEncoder(loadConfig({
    EMBEDDING_MODEL: model, EMBEDDING_DTYPE: 'int8', EMBEDDING_SESSIONS: '1', EMBEDDING_THREADS: '1', EMBEDDING_MAX_BATCH_TOKENS: '64',
  }).model, {
    onWorkerExit: (e) => exits.push(e),
  });
  const texts = Array.from({ length: 48 },
    (_, i) => `lead ${i}: квартира у метро with a balcony and a long description `.repeat(1 + (i % 4)));
  try {
    const expected = await encoder.encode(texts.slice(0, 4), 'document');
    const workers = (encoder as unknown as { workers: { crash(i: number): void } }).workers;
    const doomed = encoder.encode(texts, 'document');
    setTimeout(() => workers.crash(0), 50);
    await assert.rejects(doomed, (err: unknown) => err instanceof EncodeError && err.reason === 'internal' && /replaced/.test(err.message));
    assert.deepEqual(exits.map((e) => e.reason), ['crashed']);
    // The replacement loads the same model and gives the same vectors.
    const again = await encoder.encode(texts.slice(0, 4), 'document');
    again.vectors.forEach((v, i) => assert.deepEqual([...v], [...expected.vectors[i]!]));

    // Through the sync worker: a crash mid-backlog costs a retry, not a row.
    const t = await setupSyncDb({ EMBEDSYNC_BATCH_SIZE: '16' });
    try {
      await t.pool.query(`ALTER TABLE leads ALTER COLUMN embedding TYPE vector(${encoder.info.dimensions}) USING NULL`);
      await t.pool.query('UPDATE embedsync.state SET dimensions = $1, model_checksum = $2, model = $3',
        [encoder.info.dimensions, encoder.info.checksum, encoder.info.name]);
      await t.pool.query('INSERT INTO leads (title, description) ' +
        `SELECT 'crash lead ' || g, repeat('квартира у метро, balcony. ', 1 + g % 5) FROM generate_series(1, 40) g`);
      const killer = setInterval(() => { if (exits.length < 3) workers.crash(0); }, 400);
      await t.startDaemon({ encoder });
      try {
        await waitFor('every row embedded despite crashes', async () =>
          (await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM leads WHERE embedding IS NULL')).rows[0]!.n === 0,
        60_000, 100);
      } finally {
        clearInterval(killer);
      }
      assert.ok(exits.length >= 2, `${exits.length} worker exits`);
      assert.equal((await t.pool.query('SELECT 1 FROM embedsync.deadletter')).rowCount, 0, 'no row dead-lettered for a worker crash');
    } finally {
      await t.close();
    }
  } finally {
    await encoder.close();
  }
});
