// The sync daemon against real Postgres: triggers, queue, leases, failure handling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EncodeError } from '../src/encoder/types.ts';
import { createMetrics } from '../src/metrics/index.ts';
import { cosine, documentOf, instrument, logged, parseVector, setupSyncDb, waitFor } from './helpers/sync.ts';

const queued = async (pool: import('pg').Pool) =>
  (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.queue')).rows[0]!.n;
const embeddingOf = async (pool: import('pg').Pool, id: string | number) =>
  (await pool.query<{ e: string | null; c: string | null }>('SELECT embedding::text AS e, model_checksum AS c FROM leads WHERE id = $1',
    [id])).rows[0];

test('an inserted row is embedded within 2 s, with the vector of its document; metrics count it', async () => {
  const t = await setupSyncDb();
  const metrics = createMetrics({ defaultMetrics: false });
  try {
    await t.startDaemon({ metrics });
    const started = Date.now();
    const { rows } = await t.pool.query<{ id: string }>(
      `INSERT INTO leads (title, description) VALUES ('Квартира у метро', 'Две комнаты, ремонт') RETURNING id`);
    const id = rows[0]!.id;
    const stored = await waitFor('embedding', async () => (await embeddingOf(t.pool, id))?.e, 2000, 10);
    assert.ok(Date.now() - started < 2000);
    const expected = (await t.encoder.encode([documentOf('Квартира у метро', 'Две комнаты, ремонт')], 'document')).vectors[0]!;
    assert.ok(cosine(parseVector(stored), expected) > 0.99999);
    assert.equal((await embeddingOf(t.pool, id))!.c, t.encoder.info.checksum);
    await waitFor('empty queue', async () => (await queued(t.pool)) === 0);
    const value = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values;
    assert.equal((await value('embedsync_rows_embedded_total'))[0]!.value, 1);
    assert.ok((await value('embedsync_tokens_total'))[0]!.value > 3);
    const lag = await value('embedsync_change_to_embedding_seconds');
    assert.equal(lag.find((v) => (v as { metricName?: string }).metricName === 'embedsync_change_to_embedding_seconds_count')!.value, 1);
  } finally {
    await t.close();
  }
});

test('a title update is re-embedded; an unrelated column update is not re-encoded', async () => {
  const t = await setupSyncDb();
  const enc = instrument(t.encoder);
  try {
    await t.startDaemon({ encoder: enc });
    const { rows } = await t.pool.query<{ id: string }>(`INSERT INTO leads (title, description) VALUES ('old title', 'desc') RETURNING id`);
    const id = rows[0]!.id;
    const first = await waitFor('first embedding', async () => (await embeddingOf(t.pool, id))?.e);

    await t.pool.query(`UPDATE leads SET title = 'new title' WHERE id = $1`, [id]);
    const second = await waitFor('re-embedding', async () => {
      const e = (await embeddingOf(t.pool, id))?.e;
      return e && e !== first ? e : undefined;
    });
    const expected = (await t.encoder.encode(['new title. desc'], 'document')).vectors[0]!;
    assert.ok(cosine(parseVector(second), expected) > 0.99999);

    const encodesBefore = [...enc.counts.values()].reduce((a, b) => a + b, 0);
    await t.pool.query(`UPDATE leads SET city = 'Москва', price = 10 WHERE id = $1`, [id]);
    await t.pool.query(`UPDATE leads SET title = title WHERE id = $1`, [id]); // same text
    assert.equal(await queued(t.pool), 0, 'an update that leaves the text alone enqueues nothing');
    await t.pool.query(`SELECT pg_notify('embedsync', '1')`);
    // A marker row after the wake-up: once its vector is written, the daemon has looked at the queue since the
    // updates, and the only text it encoded meanwhile is the marker's.
    const marker = (await t.pool.query<{ id: string }>(
      `INSERT INTO leads (title, description) VALUES ('marker', 'after the updates') RETURNING id`)).rows[0]!.id;
    await waitFor('the marker row embedded', async () => (await embeddingOf(t.pool, marker))?.e);
    assert.equal(enc.counts.get(documentOf('marker', 'after the updates')), 1);
    assert.equal([...enc.counts.values()].reduce((a, b) => a + b, 0), encodesBefore + 1, 'nothing but the marker was encoded');
    assert.equal((await embeddingOf(t.pool, id))!.e, second);
  } finally {
    await t.close();
  }
});

test('an update while the row is being encoded ends with the vector of the final text', async () => {
  const t = await setupSyncDb();
  let fired = false;
  const enc = instrument(t.encoder, async (texts) => {
    if (!fired && texts.includes('draft. d')) {
      fired = true;
      await t.pool.query(`UPDATE leads SET title = 'final' WHERE title = 'draft'`);
    }
  });
  try {
    await t.startDaemon({ encoder: enc });
    const { rows } = await t.pool.query<{ id: string }>(`INSERT INTO leads (title, description) VALUES ('draft', 'd') RETURNING id`);
    const id = rows[0]!.id;
    await waitFor('queue drained', async () => fired && (await logged(t.pool)) + (await queued(t.pool)) === 0, 5000);
    const stored = parseVector((await embeddingOf(t.pool, id))!.e!);
    const final = (await t.encoder.encode(['final. d'], 'document')).vectors[0]!;
    assert.ok(cosine(stored, final) > 0.99999, 'stored vector is the final text\'s');
    assert.equal(enc.counts.get('final. d'), 1);
  } finally {
    await t.close();
  }
});

test('rows changed while no daemon runs are all embedded once one starts', async () => {
  const t = await setupSyncDb();
  try {
    const d = await t.startDaemon();
    await t.pool.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 1000) g`);
    await t.look();
    await waitFor('first pass', async () => (await queued(t.pool)) === 0, 20_000);
    await d.stop();
    await t.pool.query(`UPDATE leads SET title = title || ' (edited)'`);
    assert.equal(await logged(t.pool), 1000);
    await t.startDaemon();
    // The log and the queue change in one transaction: both empty means the daemon took every edit.
    await waitFor('all re-embedded', async () => (await logged(t.pool)) + (await queued(t.pool)) === 0, 20_000);
    const { rows } = await t.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM leads WHERE embedding IS NOT NULL AND embedding_text_hash = md5(title)::uuid`);
    assert.equal(rows[0]!.n, 1000);
  } finally {
    await t.close();
  }
});

test('two daemons share 5,000 rows: none missed, none encoded more than twice', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_BATCH_SIZE: '50' });
  const enc = instrument(t.encoder);
  try {
    await t.pool.query(`INSERT INTO leads (title) SELECT 'row ' || g FROM generate_series(1, 5000) g`);
    await t.look();
    const [a, b] = await Promise.all([t.startDaemon({ encoder: enc, owner: 'a' }), t.startDaemon({ encoder: enc, owner: 'b' })]);
    await waitFor('drained', async () => (await queued(t.pool)) === 0, 60_000, 50);
    await Promise.all([a.stop(), b.stop()]);
    const { rows } = await t.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM leads WHERE embedding IS NOT NULL`);
    assert.equal(rows[0]!.n, 5000);
    assert.equal(enc.counts.size, 5000);
    assert.ok(Math.max(...enc.counts.values()) <= 2);
  } finally {
    await t.close();
  }
});

test('a poison row is dead-lettered with its error; the rest of its batch is embedded', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_MAX_ATTEMPTS: '2' });
  const enc = instrument(t.encoder, (texts) => {
    // Fails the whole call without naming the row, so the daemon has to bisect to find it.
    if (texts.some((x) => x.includes('POISON'))) throw new EncodeError('cannot encode this input', 'input');
  });
  try {
    await t.pool.query(`INSERT INTO leads (title) SELECT CASE WHEN g = 7 THEN 'POISON' ELSE 'ok ' || g END FROM generate_series(1, 20) g`);
    await t.look();
    await t.startDaemon({ encoder: enc });
    await waitFor('dead-lettered', async () => (await queued(t.pool)) === 0, 5000);
    const dl = await t.pool.query<{ id: string; attempts: number; last_error: string }>(
      'SELECT id, attempts, last_error FROM embedsync.deadletter');
    assert.equal(dl.rows.length, 1);
    assert.equal(dl.rows[0]!.id, '7');
    assert.equal(dl.rows[0]!.attempts, 2);
    assert.match(dl.rows[0]!.last_error, /cannot encode this input/);
    const { rows } = await t.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM leads WHERE embedding IS NOT NULL`);
    assert.equal(rows[0]!.n, 19);
  } finally {
    await t.close();
  }
});

test('an unavailable backend costs no attempts; rows are embedded once it is back', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_MAX_ATTEMPTS: '1' });
  let down = true;
  const enc = instrument(t.encoder, () => { if (down) throw new EncodeError('backend unreachable', 'unavailable'); });
  try {
    await t.pool.query(`INSERT INTO leads (title) SELECT 'r' || g FROM generate_series(1, 10) g`);
    await t.look();
    await t.startDaemon({ encoder: enc });
    await waitFor('a few failed calls', async () => (enc.counts.get('r1') ?? 0) >= 2, 5000);
    assert.equal(await queued(t.pool), 10);
    assert.equal((await t.pool.query('SELECT 1 FROM embedsync.deadletter')).rowCount, 0);
    down = false;
    await waitFor('drained', async () => (await queued(t.pool)) === 0, 5000);
  } finally {
    await t.close();
  }
});

test('blank documents get a NULL embedding with the current checksum and are not retried', async () => {
  const t = await setupSyncDb();
  const enc = instrument(t.encoder);
  try {
    const d = await t.startDaemon({ encoder: enc });
    await t.pool.query(`INSERT INTO leads (title, description) VALUES (NULL, NULL), ('  ', ''), (NULL, 'only description')`);
    await t.look(); // the daemon's watch may have been first: then this finds them queued
    await waitFor('drained', async () => (await t.pool.query('SELECT 1 FROM leads WHERE model_checksum IS NULL')).rowCount === 0);
    await waitFor('drained', async () => (await queued(t.pool)) === 0);
    const { rows } = await t.pool.query<{ id: string; e: string | null; c: string }>(
      'SELECT id, embedding::text AS e, model_checksum AS c FROM leads ORDER BY id');
    assert.deepEqual(rows.map((r) => [r.e === null, r.c]),
      [[true, t.encoder.info.checksum], [true, t.encoder.info.checksum], [false, t.encoder.info.checksum]]);
    assert.deepEqual([...enc.counts.keys()], ['only description']);
    const sweep = await d.sweep();
    assert.deepEqual(sweep, { scanned: 3, enqueued: 0 });
  } finally {
    await t.close();
  }
});

test('DELETE removes queued ids; the sweep enqueues rows changed behind the triggers\' back', async () => {
  const t = await setupSyncDb();
  try {
    await t.pool.query(`INSERT INTO leads (title) SELECT 'x' || g FROM generate_series(1, 10) g`);
    await t.look();
    assert.equal(await queued(t.pool), 10);
    await t.pool.query('DELETE FROM leads WHERE id <= 4');
    assert.equal(await queued(t.pool), 6);
    const d = await t.startDaemon();
    await waitFor('drained', async () => (await queued(t.pool)) === 0);
    // A restore or replica apply runs with triggers off.
    const c = await t.pool.connect();
    try {
      await c.query('SET session_replication_role = replica');
      await c.query(`UPDATE leads SET title = 'changed quietly' WHERE id = 5`);
    } finally {
      await c.query('RESET session_replication_role');
      c.release();
    }
    assert.equal(await queued(t.pool), 0);
    assert.equal((await d.sweep()).enqueued, 1);
    await waitFor('re-embedded',
      async () => (await t.pool.query(`SELECT 1 FROM leads WHERE id = 5 AND embedding_text_hash = md5('changed quietly')::uuid`)).rowCount);
  } finally {
    await t.close();
  }
});

test('a dropped listener connection reconnects and still hears changes', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_POLL_INTERVAL_MS: '60000' });
  try {
    const d = await t.startDaemon();
    await waitFor('listener up', async () => d.listener.connected);
    await t.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity ' +
      `WHERE application_name = 'embedsync-listener' AND datname = current_database()`);
    await waitFor('listener back', async () => d.listener.connected && (await t.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE application_name = 'embedsync-listener' AND datname = current_database()`)).rowCount, 5000);
    await new Promise((r) => setTimeout(r, 100));
    const { rows } = await t.pool.query<{ id: string }>(`INSERT INTO leads (title) VALUES ('after reconnect') RETURNING id`);
    // The poll interval is a minute, so only a NOTIFY can get this done in time.
    await waitFor('embedded via NOTIFY', async () => (await embeddingOf(t.pool, rows[0]!.id))?.e, 2000);
  } finally {
    await t.close();
  }
});

test('a slow batch keeps its lease: a second daemon does not encode it again', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_LEASE_SECONDS: '1' });
  let slow = true;
  const enc = instrument(t.encoder, async () => {
    if (slow) {
      slow = false;
      await new Promise((r) => setTimeout(r, 2500));
    }
  });
  try {
    await t.startDaemon({ encoder: enc, owner: 'slow' });
    await t.pool.query(`INSERT INTO leads (title) SELECT 'slow ' || g FROM generate_series(1, 10) g`);
    await t.look();
    await waitFor('slow batch claimed', async () => !slow);
    await t.startDaemon({ encoder: enc, owner: 'other' });
    await waitFor('drained', async () => (await queued(t.pool)) === 0, 8000);
    assert.equal(enc.counts.size, 10);
    assert.deepEqual([...new Set(enc.counts.values())], [1], 'each row encoded once');
  } finally {
    await t.close();
  }
});

test('EMBEDSYNC_DOCUMENT_SQL: the expression decides what is embedded and what counts as a change', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_DOCUMENT_SQL: "concat_ws(' | ', title, city)" });
  const enc = instrument(t.encoder);
  try {
    await t.startDaemon({ encoder: enc });
    const { rows } = await t.pool.query<{ id: string }>(
      `INSERT INTO leads (title, description, city) VALUES ('Дом', 'не входит', 'Казань') RETURNING id`);
    const id = rows[0]!.id;
    const first = await waitFor('embedded', async () => (await embeddingOf(t.pool, id))?.e);
    const expected = (await t.encoder.encode(['Дом | Казань'], 'document')).vectors[0]!;
    assert.ok(cosine(parseVector(first), expected) > 0.99999);
    await t.pool.query(`UPDATE leads SET description = 'другое' WHERE id = $1`, [id]);
    assert.equal(await logged(t.pool), 0, 'a column outside the expression is not a change');
    await t.pool.query(`UPDATE leads SET city = 'Пермь' WHERE id = $1`, [id]);
    await waitFor('re-embedded', async () => enc.counts.get('Дом | Пермь') === 1 && (await logged(t.pool)) + (await queued(t.pool)) === 0);
  } finally {
    await t.close();
  }
});
