// The sync commands as users run them: separate processes against a real database and the tiny model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { listMigrations } from '../src/migration/schema-install.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { createTestDatabase, LEADS_DDL } from './helpers/db.ts';
import { lookOnce, parseVector, TEST_ENV, waitFor } from './helpers/sync.ts';
import { loadConfig } from '../src/config/index.ts';
import { freePort } from '../scripts/free-port.ts';


interface Ran { code: number | null; stdout: string; stderr: string }

function cli(args: readonly string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['bin/embedsync.js', ...args], {
    env: { ...process.env, ...TEST_ENV, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const done = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, done: done as Promise<Ran> };
}

test('migrate twice at once gives one schema; run embeds; the stored vector is what `embed` prints; SIGTERM exits 0; ' +
  '/status over HTTP', async () => {
  const db = await createTestDatabase('synccli');
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const env = { DATABASE_URL: db.url };
  let run: ReturnType<typeof cli> | undefined;
  try {
    await pool.query(LEADS_DDL);
    await pool.query(`INSERT INTO leads (title, description) SELECT 'Лид ' || g, 'lead ' || g FROM generate_series(1, 25) g`);

    const [a, b] = await Promise.all([cli(['migrate'], env).done, cli(['migrate'], env).done]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const migrations = await pool.query('SELECT name FROM embedsync.migrations');
    assert.deepEqual(migrations.rows.map((r) => r.name).sort(), listMigrations().map((m) => m.name));
    const triggers = await pool.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'leads'::regclass AND NOT tgisinternal ORDER BY 1`);
    assert.deepEqual(triggers.rows.map((r) => r.tgname), ['leads_del', 'leads_trunc', 'leads_upd'],
      'no INSERT trigger: the ids come from a sequence');
    const cols = await pool.query(
      `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'leads'::regclass AND attname = 'embedding'`);
    assert.equal(cols.rows[0].t, 'vector(64)');
    // Backfill: both runs together enqueue each existing row once.
    assert.equal((await pool.query('SELECT 1 FROM embedsync.queue')).rowCount, 25);
    assert.match(a.stdout + b.stdout, /enqueue: 25 rows scanned/);

    const port = await freePort();
    run = cli(['run'], { ...env, PORT: String(port), HOST: '127.0.0.1' });
    const doc = 'Квартира в центре. Две комнаты, свежий ремонт';
    const ins = await pool.query<{ id: string }>(
      `INSERT INTO leads (title, description) VALUES ('Квартира в центре', 'Две комнаты, свежий ремонт') RETURNING id`);
    const stored = await waitFor('embedded', async () => (await pool.query<{ e: string }>(
      'SELECT embedding::text AS e FROM leads WHERE id = $1 AND embedding IS NOT NULL', [ins.rows[0]!.id])).rows[0]?.e, 20_000, 50);
    await waitFor('backlog drained', async () => (await pool.query('SELECT 1 FROM embedsync.queue')).rowCount === 0, 10_000);

    const embed = await cli(['embed', doc], env).done;
    assert.equal(embed.code, 0, embed.stderr);
    const printed = JSON.parse(embed.stdout) as { embedding: number[]; model_checksum: string };
    const vec = parseVector(stored);
    assert.equal(vec.length, printed.embedding.length);
    // pgvector stores float32 and prints it shortest-round-trip, as JSON does for the float32 value.
    for (let i = 0; i < vec.length; i++) assert.equal(Math.fround(vec[i]!), Math.fround(printed.embedding[i]!));
    const checksum = await pool.query('SELECT DISTINCT model_checksum FROM leads');
    assert.deepEqual(checksum.rows.map((r) => r.model_checksum), [printed.model_checksum]);

    const status = await cli(['status', '--json'], env).done;
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.deepEqual([s.rows.total, s.rows.current, s.rows.missing, s.queue.queued, s.dimensions], [26, 26, 0, 0, 64]);

    // The same process serves the HTTP API, whose /status is this status.
    const res = await waitFor('http up', () => fetch(`http://127.0.0.1:${port}/status`).then((r) => r, () => undefined), 20_000, 100);
    assert.equal(res.status, 200);
    const viaHttp = await res.json() as { rows: { current: number } };
    assert.equal(viaHttp.rows.current, 26);

    const stopAt = Date.now();
    run.child.kill('SIGTERM');
    const ran = await run.done;
    assert.equal(ran.code, 0, ran.stderr);
    assert.ok(Date.now() - stopAt < 10_000);
  } finally {
    if (run && run.child.exitCode === null) run.child.kill('SIGKILL');
    await pool.end();
    await db.drop();
  }
});

test('deadletter list and retry', async () => {
  const db = await createTestDatabase('synccli');
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const env = { DATABASE_URL: db.url };
  try {
    await pool.query(LEADS_DDL);
    assert.equal((await cli(['migrate'], env).done).code, 0);
    await pool.query(`INSERT INTO leads (title) VALUES ('a'), ('b')`);
    await lookOnce(pool, loadConfig({ ...env, EMBEDDING_MODEL: TINY_MODEL_DIR }));
    await pool.query(`WITH m AS (DELETE FROM embedsync.queue WHERE id = '1' RETURNING source, id, enqueued_at)
      INSERT INTO embedsync.deadletter (source, id, attempts, last_error, enqueued_at)
      SELECT source, id, 5, 'encode: boom', enqueued_at FROM m`);
    const list = await cli(['deadletter', 'list'], env).done;
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^1\t5 attempts\t.*encode: boom$/m);
    const usage = await cli(['deadletter', 'retry'], env).done;
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--all/);
    const retry = await cli(['deadletter', 'retry', '1'], env).done;
    assert.match(retry.stdout, /1 row moved back/);
    const q = await pool.query<{ id: string; attempts: number }>('SELECT id, attempts FROM embedsync.queue ORDER BY id');
    assert.deepEqual(q.rows, [{ id: '1', attempts: 0 }, { id: '2', attempts: 0 }]);
    assert.equal((await pool.query('SELECT 1 FROM embedsync.deadletter')).rowCount, 0);
  } finally {
    await pool.end();
    await db.drop();
  }
});
