// The reconciliation sweeps against real Postgres: once per table however many daemons run, a cheap pass
// through a partial index of the rows not embedded by the current model, a paced verification that resumes from its stored position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { createMetrics } from '../src/metrics/index.ts';
import { getSyncStatus } from '../src/sync/status.ts';
import { sourceSql } from '../src/db/source-sql.ts';
import { enqueueUnsynced } from '../src/queue/sweep.ts';
import { retryDeadLetters } from '../src/queue/deadletter.ts';
import { formatStatus } from '../src/cli/status.ts';
import { documentOf, setupSyncDb, waitFor } from './helpers/sync.ts';
import { FULL_SUITE_ONLY } from './helpers/tier.ts';

const sweepRow = async (pool: pg.Pool, pass: string) => (await pool.query<{
  position: string | null; round_rows: string; rows_total: string; found_total: string; last_finished_at: Date | null;
}>(
  `SELECT position, round_rows, rows_total, found_total, last_finished_at FROM embedsync.sweep WHERE source = 'public.leads' AND pass = $1`,
  [pass])).rows[0]!;
const queued = async (pool: pg.Pool) => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.queue')).rows[0]!.n;

/** Rows that look embedded by the current model (no encoding needed to set them up). */
/** One statement the triggers do not see (a restore, a manual fix): nothing is queued for it. */
async function behindTriggers<R extends pg.QueryResultRow = pg.QueryResultRow>(pool: pg.Pool, sql: string,
  params: unknown[] = []): Promise<R[]> {
  await pool.query('ALTER TABLE leads DISABLE TRIGGER USER');
  try {
    return (await pool.query<R>(sql, params)).rows;
  } finally {
    await pool.query('ALTER TABLE leads ENABLE TRIGGER USER');
  }
}

async function fillCurrent(pool: pg.Pool, n: number, checksum: string, dimensions = 64): Promise<void> {
  await behindTriggers(pool, `INSERT INTO leads (title, description, model_checksum, embedding_text_hash, embedding)
    SELECT 'title ' || g, 'description ' || g, $2, md5('title ' || g || '. description ' || g)::uuid,
           ('[' || array_to_string(array_fill(0.125::real, ARRAY[$3::int]), ',') || ']')::vector
    FROM generate_series(1, $1) g`, [n, checksum, dimensions]);
  await pool.query('ANALYZE leads');
}

// Loops effectively off (hours apart): the tests drive steps themselves.
const MANUAL = { EMBEDSYNC_SWEEP_INTERVAL_MS: '3600000', EMBEDSYNC_VERIFY_PERIOD_HOURS: '1000', EMBEDSYNC_VERIFY_CHUNK_ROWS: '100' };

/** A test on a table of `rows` current rows (embedded by the daemon's model), with the sweep loops off unless `env` says. */
function tableTest(name: string, rows: number, body: (t: Awaited<ReturnType<typeof setupSyncDb>>) => Promise<void>,
  env: Record<string, string> = MANUAL, options: { readonly skip?: string | false } = {}): void {
  test(name, options, async () => {
    const t = await setupSyncDb(env);
    try {
      await fillCurrent(t.pool, rows, t.encoder.info.checksum);
      await body(t);
    } finally {
      await t.close();
    }
  });
}

tableTest('two daemons: each pass step runs in one of them, and not again before it is due', 300, async (t) => {
  const [a, b] = [await t.startDaemon({ owner: 'a' }), await t.startDaemon({ owner: 'b' })];
  for (const pass of ['changed', 'verify'] as const) {
    const steps = await Promise.all([a.sweeper.step(pass), b.sweeper.step(pass)]);
    assert.equal(steps.filter((s) => s.ran).length, 1, `${pass}: exactly one daemon ran the step`);
    const again = await Promise.all([a.sweeper.step(pass), b.sweeper.step(pass)]);
    assert.equal(again.filter((s) => s.ran).length, 0, `${pass}: not due again yet`);
    // A step not due says when it will be, so a daemon's loop waits for the pace, not a whole poll.
    const due = (await t.pool.query<{ ms: number }>(`SELECT extract(epoch FROM due_at - now())::float8 * 1000 AS ms
      FROM embedsync.sweep WHERE source = 'public.leads' AND pass = $1`, [pass])).rows[0]!.ms;
    for (const s of again) {
      assert.ok(s.nextInMs > 0 && Math.abs(s.nextInMs - due) < 60_000, `${pass}: due in ${s.nextInMs} ms, stored ${due}`);
    }
  }
  assert.equal((await sweepRow(t.pool, 'verify')).rows_total, '100', 'one chunk verified, once');
});

// A 3 s period over 400 rows in chunks of 50: about one chunk every 0.4 s, whichever daemon takes it.
tableTest('four daemons with running loops verify the table at most once per period, and count each row once', 400, async (t) => {
  const metrics = [0, 1, 2, 3].map(() => createMetrics({ defaultMetrics: false }));
  const started = Date.now();
  const daemons = await Promise.all(metrics.map((m, i) => t.startDaemon({ owner: `d${i}`, metrics: m })));
  await waitFor('a finished round', async () => (await sweepRow(t.pool, 'verify')).last_finished_at, 20_000, 50);
  await new Promise((r) => setTimeout(r, 2000));
  await Promise.all(daemons.map((d) => d.stop()));
  const elapsed = (Date.now() - started) / 1000;
  const row = await sweepRow(t.pool, 'verify');
  const total = Number(row.rows_total);
  // At most one round per 3 s (plus the round under way), never one per daemon.
  assert.ok(total <= 400 * (Math.floor(elapsed / 3) + 1), `${total} rows verified in ${elapsed.toFixed(1)} s`);
  const counted = await Promise.all(metrics.map(async (m) => (await m.registry.getSingleMetric('embedsync_sweep_rows_total')!.get()).values
    .filter((v) => v.labels.pass === 'verify').reduce((s, v) => s + v.value, 0)));
  assert.equal(counted.reduce((s, n) => s + n, 0), total, 'the daemons\' metrics add up to the table\'s count: no chunk ran twice');
  assert.ok(counted.filter((n) => n > 0).length >= 1);
  const changed = Number((await sweepRow(t.pool, 'changed')).rows_total);
  assert.ok(changed === 0, 'nothing for the cheap pass to look at: every row is current');
}, {
  EMBEDSYNC_SWEEP_INTERVAL_MS: '1000', EMBEDSYNC_VERIFY_PERIOD_HOURS: String(3 / 3600), EMBEDSYNC_VERIFY_CHUNK_ROWS: '50',
}, FULL_SUITE_ONLY);

tableTest('verification resumes from its stored position after a restart, ' +
  'and finds text changed with triggers disabled', 250, async (t) => {
  const ids = (await t.pool.query<{ id: string }>('SELECT id FROM leads ORDER BY id')).rows.map((r) => r.id);
  // Changed behind the triggers' back, near the end of the table: still the current checksum.
  await behindTriggers(t.pool, `UPDATE leads SET title = 'changed quietly' WHERE id = $1`, [ids[240]]);
  assert.equal(await queued(t.pool), 0);

  const first = await t.startDaemon({ owner: 'first' });
  assert.equal((await first.sweeper.step('changed')).enqueued, 0, 'the cheap pass cannot see a text change');
  await t.pool.query(`UPDATE embedsync.sweep SET due_at = now() WHERE pass = 'verify'`);
  assert.equal((await first.sweeper.step('verify')).scanned, 100);
  assert.equal((await sweepRow(t.pool, 'verify')).position, ids[99]);
  await first.stop();

  const second = await t.startDaemon({ owner: 'second' });
  await t.pool.query(`UPDATE embedsync.sweep SET due_at = now() WHERE pass = 'verify'`);
  const s2 = await second.sweeper.step('verify');
  assert.equal(s2.scanned, 100);
  assert.equal(s2.roundRows, 200, 'carried on from row 100, not from the start');
  assert.equal((await sweepRow(t.pool, 'verify')).position, ids[199]);
  assert.equal(await queued(t.pool), 0);

  await t.pool.query(`UPDATE embedsync.sweep SET due_at = now() WHERE pass = 'verify'`);
  const s3 = await second.sweeper.step('verify');
  assert.equal(s3.enqueued, 1, 'the quietly changed row');
  await t.pool.query(`UPDATE embedsync.sweep SET due_at = now() WHERE pass = 'verify'`);
  const s4 = await second.sweeper.step('verify');
  assert.ok(s4.finished && s4.roundRows === 0);
  const done = await sweepRow(t.pool, 'verify');
  assert.equal(done.position, null);
  assert.ok(done.last_finished_at);
  // The round finished long before its period: the next one waits for the period to run out.
  assert.ok(s4.nextInMs > 900 * 3_600_000);

  const status = await getSyncStatus(t.pool, t.config.source);
  assert.equal(status.sweep?.lastVerifiedAt, done.last_finished_at.toISOString());
  assert.equal(status.sweep?.lastVerifyFound, 1);
  assert.match(formatStatus(status), /verified\s+\d{4}-\d\d-\d\dT.*1 rows found changed/);

  // And the daemon re-embeds it from its new text.
  const expected = (await t.pool.query<{ h: string }>('SELECT md5($1)::uuid::text AS h',
    [documentOf('changed quietly', 'description 241')])).rows[0]!.h;
  await waitFor('re-embedded from the new text', async () => (await t.pool.query<{ ok: boolean }>(
    'SELECT embedding IS NOT NULL AND embedding_text_hash::text = $2 AS ok FROM leads WHERE id = $1', [ids[240], expected])).rows[0]!.ok);
});

tableTest('the cheap pass finds a row with no vector through the partial index, ' +
  'skipping queued and dead-lettered rows', 20_000, async (t) => {
  // Restored with the triggers disabled: no vector, no checksum, never queued.
  const rows = await behindTriggers<{ id: string }>(t.pool,
    `INSERT INTO leads (title, description) VALUES ('restored', 'row'), ('queued', 'row'), ('dead', 'row') RETURNING id`);
  await t.pool.query(`INSERT INTO embedsync.queue (source, id, next_attempt_at) VALUES ('public.leads', $1, now() + interval '1 hour')`,
    [rows[1]!.id]);
  await t.pool.query(`INSERT INTO embedsync.deadletter (source, id, attempts, enqueued_at) VALUES ('public.leads', $1, 3, now())`,
    [rows[2]!.id]);

  const plan = (await t.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT id FROM leads t
    WHERE t.model_checksum IS DISTINCT FROM '${t.encoder.info.checksum}'`)).rows.map((r) => r['QUERY PLAN']).join('\n');
  assert.match(plan, /leads_embedsync_stale/, plan);
  assert.doesNotMatch(plan, /Seq Scan/, plan);

  const d = await t.startDaemon();
  const step = await d.sweeper.step('changed');
  assert.equal(step.enqueued, 1);
  assert.deepEqual((await t.pool.query<{ id: string }>(`SELECT id FROM embedsync.queue WHERE source = 'public.leads' AND id <> $1`,
    [rows[1]!.id])).rows.map((r) => r.id), [rows[0]!.id]);
  await waitFor('restored row embedded', async () => (await t.pool.query<{ ok: boolean }>(
    'SELECT embedding IS NOT NULL AND model_checksum = $2 AS ok FROM leads WHERE id = $1', [rows[0]!.id, t.encoder.info.checksum]))
    .rows[0]!.ok);
  const status = await getSyncStatus(t.pool, t.config.source);
  assert.ok(status.sweep?.changedAt);
  assert.equal(status.sweep?.lastVerifiedAt, null);
  // Verification and migrate's enqueue pass leave the dead letter too: unsynced as it is, queued again every
  // round it would crash-loop the daemons once more per round if it ended the process.
  await t.pool.query(`UPDATE embedsync.sweep SET due_at = now(), position = NULL WHERE pass = 'verify'`);
  assert.equal((await d.sweeper.step('verify')).enqueued, 0);
  assert.equal((await enqueueUnsynced(t.pool, sourceSql(t.config.source, 'bigint'), t.encoder.info.checksum)).enqueued, 0);
  assert.equal((await t.pool.query('SELECT 1 FROM embedsync.queue WHERE id = $1', [rows[2]!.id])).rowCount, 0);
  await retryDeadLetters(t.pool, 'public.leads');
  await waitFor('the dead letter, retried, embedded', async () => (await t.pool.query<{ ok: boolean }>(
    'SELECT embedding IS NOT NULL AS ok FROM leads WHERE id = $1', [rows[2]!.id])).rows[0]!.ok);
});

tableTest('one stale rule: a row blanked behind the triggers with its vector left is found by verification, ' +
  'and the daemon clears the vector', 5, async (t) => {
  // Its hash and checksum say "current" for the blank text; only the vector that a blank document must not have is wrong.
  const [{ id }] = await behindTriggers<{ id: string }>(t.pool,
    `UPDATE leads SET title = NULL, description = '  ', embedding_text_hash = md5('')::uuid WHERE id = (SELECT min(id) FROM leads) ` +
    'RETURNING id::text') as [{ id: string }];

  const d = await t.startDaemon();
  await t.pool.query(`UPDATE embedsync.sweep SET due_at = now() WHERE pass = 'verify'`);
  assert.equal((await d.sweeper.step('verify')).enqueued, 1, 'the blanked row, and only it');
  await waitFor('vector cleared', async () => (await t.pool.query<{ cleared: boolean }>(
    'SELECT embedding IS NULL AS cleared FROM leads WHERE id = $1', [id])).rows[0]!.cleared);
  await waitFor('queue empty', async () => await queued(t.pool) === 0);
  await t.pool.query(`UPDATE embedsync.sweep SET due_at = now(), position = NULL WHERE pass = 'verify'`);
  assert.equal((await d.sweeper.step('verify')).enqueued, 0, 'current once cleared: the daemon and the sweep agree');
});

test('migrate creates the sweep rows and the partial index, rebuilds an invalid one, and replaces it for a new model', async () => {
  const t = await setupSyncDb(MANUAL);
  try {
    const idx = async () => (await t.pool.query<{ valid: boolean }>(
      `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relname = 'leads_embedsync_stale'`)).rows[0]?.valid;
    assert.equal(await idx(), true);
    assert.equal((await t.pool.query('SELECT 1 FROM embedsync.sweep WHERE source = $1', ['public.leads'])).rowCount, 2);
    // As an interrupted CREATE INDEX CONCURRENTLY leaves it.
    await t.pool.query(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'leads_embedsync_stale'::regclass`);
    const { migrateSchema } = await import('../src/migration/schema-install.ts');
    const { createClient } = await import('../src/db/pool.ts');
    const c = createClient({ databaseUrl: t.db.url });
    await c.connect();
    try {
      await migrateSchema(c, t.config.source, t.encoder.info);
      assert.equal(await idx(), true);
      // A row embedded by the current model is not in it: writes of current vectors add no entries.
      await fillCurrent(t.pool, 10, t.encoder.info.checksum);
      const entries = async () => (await t.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM leads
        WHERE model_checksum IS DISTINCT FROM '${t.encoder.info.checksum}'`)).rows[0]!.n;
      assert.equal(await entries(), 0);
      await migrateSchema(c, t.config.source, { ...t.encoder.info, checksum: 'another0model1' });
      const def = (await t.pool.query<{ d: string }>(`SELECT pg_get_indexdef('leads_embedsync_stale'::regclass) AS d`)).rows[0]!.d;
      assert.match(def, /IS DISTINCT FROM 'another0model1'/);
    } finally {
      await c.end();
    }
  } finally {
    await t.close();
  }
});

test('migrate refreshes the queue\'s planner statistics after a large enqueue pass', async () => {
  const t = await setupSyncDb(MANUAL);
  try {
    await fillCurrent(t.pool, 1500, 'an0older0model');
    const { migrate } = await import('../src/migration/migrate.ts');
    const r = await migrate({ config: t.config, model: t.encoder.info });
    assert.equal(r.enqueued, 1500);
    const st = (await t.pool.query<{ rows: number; analyzed: boolean }>(
      `SELECT c.reltuples::int AS rows, s.last_analyze IS NOT NULL AS analyzed
      FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = 'embedsync.queue'::regclass`)).rows[0]!;
    assert.deepEqual(st, { rows: 1500, analyzed: true });
  } finally {
    await t.close();
  }
});
