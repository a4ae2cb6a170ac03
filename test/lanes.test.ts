// Live and bulk lanes: what the triggers put in which lane, how claims order them, the bulk lane's minimum share,
// the encoder's urgent runs, and, with a model whose runs take real time, a live insert overtaking a backlog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { createClient } from '../src/db/pool.ts';
import { createEncoder } from '../src/encoder/index.ts';
import { RunScheduler } from '../src/encoder/run-scheduler.ts';
import { Semaphore } from '../src/encoder/remote/semaphore.ts';
import { createMetrics } from '../src/metrics/index.ts';
import { BulkShare } from '../src/sync/bulk-share.ts';
import { migrateSchema } from '../src/migration/schema-install.ts';
import { doctorCheck, PLPGSQL_UPDATES_AVAILABLE } from './helpers/doctor.ts';
import { midModelDir } from './helpers/real-model.ts';
import { lanes, logged, setupSyncDb, waitFor } from './helpers/sync.ts';

const laneOf = async (pool: pg.Pool, id: string) =>
  (await pool.query<{ lane: number }>('SELECT lane FROM embedsync.queue WHERE id = $1', [id])).rows[0]?.lane;

test('ordinary writes go to the live lane, statements over EMBEDSYNC_BULK_ROWS to bulk; a live edit promotes a bulk row', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_BULK_ROWS: '10' });
  try {
    // Inserts are enqueued by the daemons' watch (no INSERT trigger on a table with sequence ids): one look each.
    await t.pool.query(`INSERT INTO leads (title) VALUES ('one lead')`);
    await t.look();
    assert.deepEqual(await lanes(t.pool), { live: 1, bulk: 0 });
    await t.pool.query(`INSERT INTO leads (title) SELECT 'imported ' || g FROM generate_series(1, 11) g`);
    await t.look();
    assert.deepEqual(await lanes(t.pool), { live: 1, bulk: 11 });
    await t.pool.query('TRUNCATE embedsync.queue');
    // As if embedded (out of the new-rows index), so the looks below see only the updates.
    await t.pool.query('UPDATE leads SET model_checksum = $1', ['x'.repeat(16)]);

    // A text update of one row is logged in the application's transaction and queued live by the next look; an
    // update of no document column logs nothing at all.
    await t.pool.query(`UPDATE leads SET title = 'edited' WHERE title = 'one lead'`);
    assert.deepEqual([await logged(t.pool), await lanes(t.pool)], [1, { live: 0, bulk: 0 }]);
    await t.pool.query('UPDATE leads SET city = $1, price = 5', ['Казань']);
    assert.equal(await logged(t.pool), 1);
    assert.deepEqual(await t.look(), { enqueued: 1, lane: 'live', due: true });
    assert.deepEqual([await logged(t.pool), await lanes(t.pool)], [0, { live: 1, bulk: 0 }]);
    await t.pool.query('TRUNCATE embedsync.queue');

    // A statement over EMBEDSYNC_BULK_ROWS rows goes to bulk as a whole.
    await t.pool.query(`UPDATE leads SET description = 'bulk edit'`);
    await t.look();
    assert.deepEqual(await lanes(t.pool), { live: 0, bulk: 12 });
    // Two statements of one transaction are counted apart, and a rolled-back change logs nothing.
    await t.pool.query('TRUNCATE embedsync.queue');
    const c = await t.pool.connect();
    try {
      await c.query('BEGIN');
      for (let i = 0; i < 12; i++) {
        await c.query(`UPDATE leads SET description = 'one by one ' || $1::int WHERE id = (SELECT min(id) + $1::int FROM leads)`, [i]);
      }
      await c.query('COMMIT');
      await c.query('BEGIN');
      await c.query(`UPDATE leads SET description = 'rolled back'`);
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
    await t.look();
    assert.deepEqual([await logged(t.pool), await lanes(t.pool)], [0, { live: 12, bulk: 0 }]);

    // A row waiting in bulk that the application edits moves to live.
    await t.pool.query('TRUNCATE embedsync.queue');
    await t.pool.query(`UPDATE leads SET description = 'again'`);
    await t.look();
    const { rows } = await t.pool.query<{ id: string }>('SELECT id FROM embedsync.queue WHERE lane = 1 ORDER BY id LIMIT 1');
    const id = rows[0]!.id;
    await t.pool.query(`UPDATE leads SET title = 'promoted' WHERE id = $1`, [id]);
    await t.look();
    assert.equal(await laneOf(t.pool, id), 0);
    // ... and a bulk statement never demotes a live row, even when both are in the same look.
    await t.pool.query(`UPDATE leads SET title = title || '!'`);
    await t.pool.query(`UPDATE leads SET title = 'live again' WHERE id = $1`, [id]);
    await t.pool.query(`UPDATE leads SET title = title || '?'`);
    await t.look();
    assert.equal(await laneOf(t.pool, id), 0);
    assert.deepEqual(await lanes(t.pool), { live: 1, bulk: 11 });

    // An update that names the document's columns and leaves them as they were logs nothing.
    assert.equal(await logged(t.pool), 0);
    await t.pool.query(`UPDATE leads SET title = title, description = description`);
    assert.equal(await logged(t.pool), 0);

    // migrate installed a row-level UPDATE trigger restricted to the document's columns, with no WHEN (its
    // function compares them).
    const trig = await t.pool.query<{ def: string }>(`SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgname = 'leads_upd'`);
    assert.match(trig.rows[0]!.def, /AFTER UPDATE OF id, title, description ON public\.leads FOR EACH ROW EXECUTE FUNCTION/);

    // A table set up by the version before (the comparison in the trigger's WHEN, a function that logs every call):
    // migrate replaces both, so an update that leaves the text alone still logs nothing.
    await t.pool.query(`CREATE OR REPLACE FUNCTION embedsync.leads_upd() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
      AS $$BEGIN INSERT INTO embedsync.leads_changes (id) VALUES (NEW.id); RETURN NULL; END$$`);
    await t.pool.query(`CREATE OR REPLACE TRIGGER leads_upd AFTER UPDATE OF id, title, description ON leads FOR EACH ROW
      WHEN ((old.id, old.title, old.description) IS DISTINCT FROM (new.id, new.title, new.description))
      EXECUTE FUNCTION embedsync.leads_upd()`);
    // doctor says so, and what fixes it.
    assert.deepEqual(await doctorCheck(t.config, 'triggers'), {
      ok: false, name: 'triggers', fix: 'embedsync migrate replaces it',
      found: '3 embedsync triggers enabled on "public"."leads" (inserts: the daemons\' watch, no INSERT trigger)' +
        `${PLPGSQL_UPDATES_AVAILABLE}, the UPDATE trigger an earlier version's (its comparison in a WHEN costs every text update)`,
    });
    const client = createClient({ databaseUrl: t.db.url });
    await client.connect();
    await migrateSchema(client, t.config.source, t.encoder.info).finally(() => client.end());
    const after = await t.pool.query<{ def: string }>(`SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgname = 'leads_upd'`);
    assert.doesNotMatch(after.rows[0]!.def, /WHEN/);
    await t.pool.query(`UPDATE leads SET title = title`);
    assert.equal(await logged(t.pool), 0);
    assert.equal((await doctorCheck(t.config, 'triggers'))?.ok, true);
  } finally {
    await t.close();
  }
});

test('EMBEDSYNC_DOCUMENT_SQL: the UPDATE trigger watches exactly the columns the expression reads', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_DOCUMENT_SQL: "concat_ws(' / ', title, city, price::text)" });
  try {
    const trig = await t.pool.query<{ def: string }>(`SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgname = 'leads_upd'`);
    assert.match(trig.rows[0]!.def, /AFTER UPDATE OF id, title, city, price ON/);
    await t.pool.query(`INSERT INTO leads (title, description) VALUES ('a', 'b')`);
    await t.pool.query('TRUNCATE embedsync.queue');
    await t.pool.query(`UPDATE leads SET description = 'not in the document'`);
    assert.equal(await logged(t.pool), 0);
    await t.pool.query('UPDATE leads SET price = price, city = city');
    assert.equal(await logged(t.pool), 0, 'document columns set to what they were');
    await t.pool.query('UPDATE leads SET price = 3');
    assert.equal(await logged(t.pool), 1);
  } finally {
    await t.close();
  }
});

test('claims take live rows first, give bulk its reserve, and a live-only claim takes no bulk row', async () => {
  const t = await setupSyncDb();
  try {
    const d = await t.startDaemon();
    await d.stop(); // only its queue operations are used
    await t.pool.query(`INSERT INTO embedsync.queue (source, id, lane, next_attempt_at)
      SELECT 'public.leads', 'b' || g, 1, now() - interval '1 hour' FROM generate_series(1, 20) g`);
    await t.pool.query(`INSERT INTO embedsync.queue (source, id, lane) SELECT 'public.leads', 'l' || g, 0 FROM generate_series(1, 20) g`);
    const first = await d.ops.claim(8, 'x', 60);
    assert.deepEqual(first.map((r) => r.lane), Array(8).fill('live'), 'bulk rows queued an hour earlier wait for live ones');
    const reserved = await d.ops.claim(8, 'x', 60, 3);
    assert.equal(reserved.filter((r) => r.lane === 'bulk').length, 3);
    assert.equal(reserved.filter((r) => r.lane === 'live').length, 5);
    const liveOnly = await d.ops.claim(30, 'x', 60, 0, 'live');
    assert.equal(liveOnly.length, 7);
    assert.ok(liveOnly.every((r) => r.lane === 'live'));
    const rest = await d.ops.claim(30, 'x', 60, 5);
    assert.equal(rest.length, 17, 'with live empty, bulk takes the whole claim');
  } finally {
    await t.close();
  }
});

test('under a continuous live stream bulk keeps its minimum share of the claimed rows', async () => {
  const t = await setupSyncDb();
  try {
    const d = await t.startDaemon();
    await d.stop();
    await t.pool.query(`INSERT INTO embedsync.queue (source, id, lane) SELECT 'public.leads', 'b' || g, 1 FROM generate_series(1, 500) g`);
    const share = new BulkShare(0.2);
    let live = 0;
    let bulk = 0;
    for (let i = 0; i < 40; i++) {
      // More live rows arrive than a claim takes: live alone would fill every claim.
      await t.pool.query(`INSERT INTO embedsync.queue (source, id, lane) SELECT 'public.leads', 'l' || $1::int || '-' || g, 0 ` +
        'FROM generate_series(1, 4) g', [i]);
      const size = 3;
      const reserve = share.reserve(size);
      const rows = await d.ops.claim(size, 'x', 60, reserve);
      const b = rows.filter((r) => r.lane === 'bulk').length;
      share.took(reserve, b);
      bulk += b;
      live += rows.length - b;
    }
    const got = bulk / (bulk + live);
    assert.ok(got >= 0.18 && got <= 0.25, `bulk got ${(got * 100).toFixed(0)}% of claimed rows, expected about 20%`);
    const still = await lanes(t.pool);
    assert.ok(still.live > 0, 'live rows were waiting throughout');
  } finally {
    await t.close();
  }
});

test('the encoder: a query arriving during a bulk run starts before the next bulk run, live before bulk', async () => {
  let clock = 0;
  const s = new RunScheduler(0.5, () => clock, 1);
  const order: string[] = [];
  const gates: (() => void)[] = [];
  const task = (name: string) => () => new Promise<void>((resolve) => gates.push(() => { order.push(name); resolve(); }));
  const runs = [
    s.run('sync', task('bulk-1'), undefined, 100, 'bulk'),
    s.run('sync', task('bulk-2'), undefined, 100, 'bulk'),
    s.run('http', task('batch-1'), undefined, 100, 'bulk'),
  ];
  assert.equal(gates.length, 1, 'one worker: the first bulk run is in flight');
  assert.equal(s.interactive(), false);
  runs.push(s.run('sync', task('live'), undefined, 10, 'live'));
  runs.push(s.run('http', task('query'), undefined, 10, 'query'));
  assert.equal(s.interactive(), true, 'urgent work makes bulk work take short runs');
  for (let i = 0; i < 5; i++) {
    clock += 10;
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(runs);
  assert.deepEqual(order.slice(0, 3), ['bulk-1', 'query', 'live']);
  clock += 20_000;
  assert.equal(s.interactive(), false, 'short runs end some seconds after the last urgent run');
});

test('the encoder: while queries are about, bulk work leaves one worker free and a query starts at once', async () => {
  let clock = 0;
  const s = new RunScheduler(0.5, () => clock, 2);
  const started: string[] = [];
  const gates: (() => void)[] = [];
  const task = (name: string) => () => { started.push(name); return new Promise<void>((resolve) => gates.push(resolve)); };
  const first = [s.run('sync', task('bulk-1'), undefined, 100, 'bulk'), s.run('sync', task('bulk-2'), undefined, 100, 'bulk')];
  assert.deepEqual(started, ['bulk-1', 'bulk-2'], 'no query yet: bulk takes both workers');
  gates.shift()!();
  gates.shift()!();
  await Promise.all(first);
  const q = s.run('http', task('query-1'), undefined, 10, 'query');
  gates.shift()!();
  await q;
  await new Promise((r) => setImmediate(r)); // the run's end is booked after its caller hears of it
  const bulk = [s.run('sync', task('bulk-3'), undefined, 100, 'bulk'), s.run('http', task('batch-1'), undefined, 100, 'bulk')];
  assert.deepEqual(started.slice(3), ['bulk-3'], 'a query came lately: one worker stays free');
  const q2 = s.run('http', task('query-2'), undefined, 10, 'query');
  assert.deepEqual(started.slice(3), ['bulk-3', 'query-2'], 'the query starts at once, beside the bulk run');
  clock += 20_000;
  gates.shift()!();
  gates.shift()!();
  await Promise.all([q2, bulk[0]]);
  await new Promise((r) => setImmediate(r));
  assert.equal(started.at(-1), 'batch-1');
  gates.shift()!();
  await bulk[1];
});

test('a remote encoder keeps the same order: a freed request slot goes to a query, then live rows, then bulk', async () => {
  const slots = new Semaphore(1);
  const order: string[] = [];
  let free!: () => void;
  const first = slots.run(() => new Promise<void>((r) => { free = r; }));
  const waiting = (['bulk', 'live', 'query', 'bulk'] as const).map((p, i) => slots.run(async () => { order.push(`${p}-${i}`); }, p));
  free();
  await Promise.all([first, ...waiting]);
  assert.deepEqual(order, ['query-2', 'live-1', 'bulk-0', 'bulk-3']);
});

test('a live insert during a backlog on a real-sized model gets its vector before the rows queued before it', async () => {
  const model = await midModelDir();
  const t = await setupSyncDb({ EMBEDSYNC_BULK_ROWS: '20' });
  const encoder = await createEncoder(loadConfig({
    EMBEDDING_MODEL: model, EMBEDDING_DTYPE: 'int8', EMBEDDING_SESSIONS: '2', EMBEDDING_THREADS: '1',
  }).model);
  const metrics = createMetrics({ defaultMetrics: false });
  try {
    // The backlog: a bulk statement, migrated afterwards with the mid-sized model's columns.
    await t.pool.query(
      `ALTER TABLE leads DROP COLUMN embedding, DROP COLUMN model_checksum, DROP COLUMN embedded_at, DROP COLUMN embedding_text_hash`);
    await t.pool.query('TRUNCATE embedsync.queue, embedsync.state');
    const { migrateSchema } = await import('../src/migration/schema-install.ts');
    const { createClient } = await import('../src/db/pool.ts');
    const c = createClient({ databaseUrl: t.db.url });
    await c.connect();
    await c.query(`INSERT INTO leads (title, description)
      SELECT 'Lead ' || g || ': двухкомнатная квартира у метро',
        repeat('Client asks for a viewing this week, prefers a quiet street. ', 1 + g % 4)
      FROM generate_series(1, 300) g`);
    await migrateSchema(c, t.config.source,
      { name: encoder.info.name, checksum: encoder.info.checksum, dimensions: encoder.info.dimensions });
    await c.end();
    await t.look();
    assert.equal((await lanes(t.pool)).bulk, 300, 'a 300-row load is bulk');

    await t.startDaemon({ encoder, metrics });
    await waitFor('the backlog under way',
      async () => (await t.pool.query<{ n: number }>('SELECT count(embedding)::int AS n FROM leads')).rows[0]!.n > 0, 60_000, 50);
    const { rows } = await t.pool.query<{ id: string }>(
      `INSERT INTO leads (title, description) VALUES ('Новый лид', 'Звонок с сайта') RETURNING id`);
    const written = Date.now();
    await waitFor('the live row embedded', async () =>
      (await t.pool.query('SELECT 1 FROM leads WHERE id = $1 AND embedding IS NOT NULL', [rows[0]!.id])).rowCount, 20_000, 20);
    const ms = Date.now() - written;
    const left = (await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM leads WHERE embedding IS NULL')).rows[0]!.n;
    assert.ok(left > 50, `the live row waited for the backlog: only ${left} rows were left unembedded`);
    assert.ok(ms < 5000, `live row embedded ${ms} ms after its insert`);
    const fresh = (await metrics.registry.getSingleMetric('embedsync_live_freshness_seconds')!.get()).values;
    assert.equal(fresh.find((v) => (v as { metricName?: string }).metricName === 'embedsync_live_freshness_seconds_count')!.value, 1);
  } finally {
    await t.close();
    await encoder.close();
  }
});
