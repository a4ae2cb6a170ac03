// The triggers' change log (embedsync.<table>_changes): what the application's statements leave in it, and how the
// daemons' looks move it into the queue: lanes by statement across the parts of a large drain, one daemon at a
// time, nothing lost or doubled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lanes, logged, lookOnce, setupSyncDb } from './helpers/sync.ts';
import { asRole, dropRole } from './helpers/roles.ts';
import { getSyncStatus } from '../src/sync/status.ts';
import { formatStatus } from '../src/cli/status.ts';
import { inspectSource } from '../src/db/source-info.ts';
import { drainChanges } from '../src/queue/change-log.ts';

test('a statement larger than one part of a drain is bulk to its last row; concurrent looks move each entry once', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_BULK_ROWS: '100' });
  try {
    await t.pool.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 10050) g`);
    // As if embedded: the looks below see the updates alone.
    await t.pool.query('UPDATE leads SET model_checksum = $1', ['x'.repeat(16)]);
    await t.pool.query(`UPDATE leads SET title = title || ' (edited)'`);
    const { rows: [one] } = await t.pool.query<{ id: string }>('SELECT min(id)::text AS id FROM leads');
    await t.pool.query(`UPDATE leads SET description = 'a live edit' WHERE id = $1`, [one!.id]);
    assert.equal(await logged(t.pool), 10051);

    // Three daemons' looks at once: one moves the log (10,000 entries and then 51), the others find it taken.
    // (A look counts queue rows written: the edited row twice when its two entries fall in different parts.)
    const looks = await Promise.all([t.look(), t.look(), t.look()]);
    assert.equal(looks.filter((l) => l.enqueued > 0).length, 1, JSON.stringify(looks));
    assert.equal(await logged(t.pool), 0);
    assert.equal((await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount, 10050);
    // The UPDATE's 50 rows in the second part follow its first 10,000 into bulk; the single-row edit is live.
    assert.deepEqual(await lanes(t.pool), { live: 1, bulk: 10049 });
    const { rows: [q] } = await t.pool.query<{ lane: number; version: string }>(
      'SELECT lane, version::text FROM embedsync.queue WHERE id = $1', [one!.id]);
    assert.equal(q!.lane, 0);

    // A change of a queued row coalesces with its entry (a new version, still one row) and logs again.
    await t.pool.query(`UPDATE leads SET title = 'again' WHERE id = $1`, [one!.id]);
    await t.look();
    const { rows: after } = await t.pool.query<{ version: string }>('SELECT version::text FROM embedsync.queue WHERE id = $1', [one!.id]);
    assert.equal(after.length, 1);
    assert.ok(BigInt(after[0]!.version) > BigInt(q!.version));
    assert.equal(await logged(t.pool), 0);
  } finally {
    await t.close();
  }
});

test('a writer without rights on schema embedsync logs its changes; TRUNCATE clears the log with the queue', async () => {
  const t = await setupSyncDb();
  const role = `writer_${process.pid}`;
  try {
    await t.pool.query(`INSERT INTO leads (title) VALUES ('a'), ('b')`);
    await t.pool.query(`CREATE ROLE ${role}`);
    await t.pool.query(`GRANT SELECT, UPDATE ON leads TO ${role}`);
    await asRole(t.pool, role, async (c) => {
      await assert.rejects(c.query('SELECT * FROM embedsync.leads_changes'), /permission denied/);
      await c.query(`UPDATE leads SET title = title || '!'`);
    });
    assert.equal(await logged(t.pool), 2);
    // status says where the two changes wait.
    const st = await getSyncStatus(t.pool, t.config.source);
    assert.equal(st.queue.logged, 2);
    assert.match(formatStatus(st), /change log {5}2 changes not in the queue yet/);
    await t.pool.query('TRUNCATE leads');
    assert.equal(await logged(t.pool), 0);
  } finally {
    await dropRole(t.pool, role);
    await t.close();
  }
});

test('a daemon role without the grant on the log: the look still takes new rows, then fails naming the grant', async () => {
  const t = await setupSyncDb();
  const role = `daemon_${process.pid}`;
  try {
    await t.pool.query(`INSERT INTO leads (title) VALUES ('embedded')`);
    await t.pool.query('UPDATE leads SET model_checksum = $1', ['x'.repeat(16)]);
    await t.pool.query(`UPDATE leads SET title = 'edited'`);
    await t.pool.query(`INSERT INTO leads (title) VALUES ('new')`);
    // Every right the look needs but those on the log (a daemon of the earlier version's grants after an upgrade).
    await t.pool.query(`CREATE ROLE ${role}`);
    await t.pool.query(`GRANT USAGE ON SCHEMA embedsync TO ${role}`);
    await t.pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA embedsync TO ${role}`);
    await t.pool.query(`REVOKE ALL ON embedsync.leads_changes FROM ${role}`);
    await t.pool.query(`GRANT SELECT ON leads TO ${role}`);
    await asRole(t.pool, role, (c) => assert.rejects(lookOnce(c, t.config),
      /change log embedsync\."leads_changes" into the queue failed: permission denied .*needs SELECT and DELETE on it/));
    const { rows } = await t.pool.query<{ title: string }>(
      'SELECT l.title FROM embedsync.queue q JOIN leads l ON l.id = q.id::bigint ORDER BY l.id');
    assert.deepEqual(rows.map((r) => r.title), ['new'], 'the new row was queued; the edit waits in the log');
    assert.equal(await logged(t.pool), 1);
  } finally {
    await dropRole(t.pool, role);
    await t.close();
  }
});

test('a stopping daemon ends a long move of the log after the part in flight; the rest waits for the next look', async () => {
  const t = await setupSyncDb();
  try {
    await t.pool.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 25000) g`);
    await t.pool.query('UPDATE leads SET model_checksum = $1', ['x'.repeat(16)]);
    await t.pool.query(`UPDATE leads SET title = title || '!'`);
    const { sql } = await inspectSource(t.pool, t.config.source);
    const stopped = AbortSignal.abort();
    await drainChanges(t.pool, sql, 100, stopped);
    assert.deepEqual([await logged(t.pool), (await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount], [15000, 10000]);
    await drainChanges(t.pool, sql, 100);
    assert.deepEqual([await logged(t.pool), (await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount], [0, 25000]);
  } finally {
    await t.close();
  }
});
