// Queue identity: a queue entry's version is never reused, so "replace a row" by DELETE + INSERT of the
// same id is always embedded, however it interleaves with a batch in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspectSource } from '../src/db/source-info.ts';
import { queueOps, vectorTypeOid } from '../src/queue/queue.ts';
import { setupSyncDb, waitFor } from './helpers/sync.ts';

test('claim id 1, delete row 1, finish it as gone, re-insert id 1: the new entry stays queued and is embedded', async () => {
  const t = await setupSyncDb();
  try {
    const ops = queueOps(t.pool, (await inspectSource(t.pool, t.config.source)).sql, await vectorTypeOid(t.pool));
    await t.pool.query(`INSERT INTO leads (id, title) VALUES (1, 'first text')`);
    // The daemons' watch enqueues new rows (no INSERT trigger on a table with sequence ids): here, one look by hand.
    await t.look();
    const [claimed] = await ops.claim(10, 'daemon-a', 30);
    assert.equal(claimed?.id, '1');
    // The application "replaces" the row while the batch is in hand.
    await t.pool.query('DELETE FROM leads WHERE id = 1');
    assert.deepEqual(await ops.readDocuments(['1'], 'any-model'), [], 'the daemon sees the row gone');
    await t.pool.query(`INSERT INTO leads (id, title) VALUES (1, 'second text')`);
    await t.look();
    // The in-flight batch finishes id 1 as gone, with the version it claimed.
    const r = await ops.write([], ['1'], [claimed], t.encoder.info.checksum);
    assert.deepEqual(r.dequeued, [], 'the re-inserted row\'s entry is not the one claimed');
    const { rows } = await t.pool.query<{ version: string }>("SELECT version::text FROM embedsync.queue WHERE id = '1'");
    assert.equal(rows.length, 1, 'the new entry is still queued');
    assert.notEqual(rows[0]!.version, claimed.version);

    // And a daemon embeds it well before any sweep (60 s in the tests).
    await t.pool.query("UPDATE embedsync.queue SET lease_owner = NULL, next_attempt_at = now() WHERE id = '1'");
    await t.startDaemon();
    await waitFor('row 1 embedded', async () =>
      (await t.pool.query('SELECT 1 FROM leads WHERE id = 1 AND embedding IS NOT NULL')).rowCount === 1, 5000);
  } finally {
    await t.close();
  }
});

test('delete + re-insert in one transaction while claimed, and finishing before the re-insert: versions never repeat', async () => {
  const t = await setupSyncDb();
  try {
    const ops = queueOps(t.pool, (await inspectSource(t.pool, t.config.source)).sql, await vectorTypeOid(t.pool));
    await t.pool.query(`INSERT INTO leads (id, title) VALUES (7, 'a'), (8, 'b')`);
    await t.look();
    const claimed = await ops.claim(10, 'daemon-a', 30);
    assert.equal(claimed.length, 2);
    // Row 7: replaced in one transaction while held. Row 8: finished as gone first, then re-created.
    await t.pool.query(`BEGIN; DELETE FROM leads WHERE id = 7; INSERT INTO leads (id, title) VALUES (7, 'a2'); COMMIT`);
    await t.look();
    await t.pool.query('DELETE FROM leads WHERE id = 8');
    const c8 = claimed.find((c) => c.id === '8')!;
    const c7 = claimed.find((c) => c.id === '7')!;
    await ops.write([], ['8'], [c8], t.encoder.info.checksum);
    await t.pool.query(`INSERT INTO leads (id, title) VALUES (8, 'b2')`);
    await t.look();
    const r = await ops.write([], ['7', '8'], [c7, c8], t.encoder.info.checksum);
    assert.deepEqual(r.dequeued, []);
    const { rows } = await t.pool.query<{ id: string; version: string }>('SELECT id, version::text FROM embedsync.queue ORDER BY id');
    assert.deepEqual(rows.map((x) => x.id), ['7', '8']);
    const seen = new Set([...claimed.map((c) => c.version), ...rows.map((x) => x.version)]);
    assert.equal(seen.size, 4, 'every entry and every change got its own version');
  } finally {
    await t.close();
  }
});
