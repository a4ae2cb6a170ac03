// Small promises with big consequences: similar_to of nothing is nothing; only a missing schema means
// "run migrate" at start-up; row values never reach dead letters; the daemon's statements have a time limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { createLogger } from '../src/log/index.ts';
import { createClient, createPool } from '../src/db/pool.ts';
import { redactMessage } from '../src/db/pg-errors.ts';
import { NotMigratedError, startSyncDaemon } from '../src/sync/daemon.ts';
import { setupMigrateDb } from './helpers/migrate-db.ts';
import { setupSyncDb, waitFor } from './helpers/sync.ts';

test('similar_to of a missing id, or of a row without a vector, returns no rows', async () => {
  const t = await setupMigrateDb(0);
  try {
    const enc = await t.encoder(TINY_MODEL_DIR);
    await t.migrate({ encoder: enc });
    await t.pool.query(
      `INSERT INTO leads (id, title, embedding, model_checksum)
       SELECT g, 'row ' || g, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 64) d WHERE d > g * 0)::vector, $1
       FROM generate_series(1, 50) g`, [enc.info.checksum]);
    await t.pool.query(`INSERT INTO leads (id, title) VALUES (1000, 'not embedded yet')`);
    await t.pool.query('UPDATE leads SET embedding = NULL WHERE id = 1000');
    assert.equal((await t.pool.query('SELECT * FROM embedsync.similar_to(999999, 5)')).rowCount, 0, 'missing id');
    assert.equal((await t.pool.query('SELECT * FROM embedsync.similar_to(1000, 5)')).rowCount, 0, 'row without vector');
    const ok = await t.pool.query<{ score: number | null }>('SELECT score FROM embedsync.similar_to(1, 5)');
    assert.equal(ok.rowCount, 5);
    assert.ok(ok.rows.every((r) => typeof r.score === 'number'));
  } finally {
    await t.close();
  }
});

test('start-up: a terminated connection is retried by the caller, not reported as "run migrate"; a missing schema is', async () => {
  const t = await setupSyncDb();
  const pool = createPool({ databaseUrl: t.db.url, max: 2, applicationName: 'startup-probe' });
  const logger = createLogger('silent');
  const start = () => startSyncDaemon({
    pool, encoder: t.encoder, source: t.config.source, sync: t.config.sync, logger,
    connectListener: () => createClient({ databaseUrl: t.db.url }),
  });
  const locker = await t.pool.connect();
  try {
    // migrate (say) holds the state table while the database restarts under the daemon's start-up query.
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE embedsync.state IN ACCESS EXCLUSIVE MODE');
    const starting = start();
    starting.catch(() => undefined);
    const pid = await waitFor('start-up query waiting on the lock', async () => (await t.pool.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = 'startup-probe' AND wait_event_type = 'Lock'`)).rows[0]?.pid);
    await t.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    const err = await starting.then(() => assert.fail('start-up succeeded on a terminated connection'), (e: unknown) => e);
    assert.ok(!(err instanceof NotMigratedError), `reported as not migrated: ${(err as Error).message}`);
    assert.equal((err as { code?: string }).code, '57P01');
    await locker.query('ROLLBACK');
    const d = await start();
    await d.stop();

    await t.pool.query('DROP SCHEMA embedsync CASCADE');
    await assert.rejects(start(), (e: unknown) => e instanceof NotMigratedError && /run `embedsync migrate`/.test((e as Error).message));
  } finally {
    locker.release();
    await pool.end();
    await t.close();
  }
});

test('a read error on a row reaches the dead letter with its SQLSTATE, without the row\'s value', async () => {
  // The document expression fails on rows whose city is not a number; the error would quote the city.
  const t = await setupSyncDb({ EMBEDSYNC_DOCUMENT_SQL: "title || ' ' || (city::int + 1)", EMBEDSYNC_MAX_ATTEMPTS: '2' });
  try {
    await t.pool.query(`INSERT INTO leads (title, city) VALUES ('fine', '12'), ('secret', 'Улица Тайная 7, кв 3')`);
    await t.startDaemon();
    await waitFor('dead-lettered', async () => (await t.pool.query('SELECT 1 FROM embedsync.deadletter')).rowCount === 1, 5000);
    const { rows } = await t.pool.query<{ last_error: string }>('SELECT last_error FROM embedsync.deadletter');
    const e = rows[0]!.last_error;
    assert.doesNotMatch(e, /Тайная/, e);
    assert.match(e, /invalid input syntax for type integer: "…"/, e);
    assert.match(e, /SQLSTATE 22P02/, e);
    assert.equal((await t.pool.query('SELECT 1 FROM leads WHERE embedding IS NOT NULL')).rowCount, 1, 'the good row is embedded');
  } finally {
    await t.close();
  }
});

test('redaction keeps identifiers and drops quoted and trailing values', () => {
  assert.equal(redactMessage('value "12345678901" is out of range for type integer', '22003'),
    'value "…" is out of range for type integer');
  assert.equal(redactMessage('invalid byte sequence for encoding "UTF8": 0xe2 0x28', '22021'),
    'invalid byte sequence for encoding "UTF8": …');
  assert.equal(redactMessage('null value in column "title" of relation "leads" violates not-null constraint', '23502'),
    'null value in column "title" of relation "leads" violates not-null constraint');
  assert.doesNotMatch(redactMessage('bad value 42 for row secret', 'P0001'), /secret/);
});

test('pools carry connection and statement timeouts', async () => {
  const t = await setupSyncDb();
  const pool = createPool({ databaseUrl: t.db.url, max: 1 });
  try {
    const { rows } = await pool.query<{ statement_timeout: string }>('SHOW statement_timeout');
    assert.equal(rows[0]!.statement_timeout, '1min');
    const quick = createPool({ databaseUrl: t.db.url, max: 1, statementTimeoutMs: 200 });
    await assert.rejects(quick.query('SELECT pg_sleep(2)'), (e: { code?: string }) => e.code === '57014');
    await quick.end();
  } finally {
    await pool.end();
    await t.close();
  }
});
