// A daemon killed with SIGKILL in the middle of a batch: its lease runs out and another daemon finishes.
// Every wait is on the state asserted (the queue rows, the encoder call), never on the machine's speed: the
// lease expiry the dead daemon left is read from the queue, and each row's vector must be written after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setupSyncDb, waitFor } from './helpers/sync.ts';

test('kill -9 mid-batch: the batch is reclaimed after the lease and completed', { timeout: 180_000 }, async () => {
  const t = await setupSyncDb();
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/sync-child.ts', t.db.url],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    await t.pool.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 40) g`);
    // The doomed daemon claims the rows (in one claim or several) and hangs in its encoder with them: wait for the
    // queue to show all of them under its lease, however long the claims take on a loaded machine.
    await waitFor('every row leased by the doomed daemon, which is inside its encoder', async () => out.includes('encoding') &&
      (await t.pool.query(`SELECT 1 FROM embedsync.queue WHERE lease_owner LIKE 'doomed/%'`)).rowCount === 40, 90_000, 50);
    child.kill('SIGKILL');
    await once(child, 'exit');

    // What the dead daemon left: every row under its lease, until the expiry it last wrote (nothing else runs yet).
    const left = await t.pool.query<{ id: string; owner: string | null; expiry: string }>(
      'SELECT id, lease_owner AS owner, next_attempt_at::text AS expiry FROM embedsync.queue');
    assert.equal(left.rowCount, 40);
    assert.ok(left.rows.every((r) => r.owner?.startsWith('doomed/')),
      'the whole batch is under the dead daemon\'s leases (one owner per loop)');

    await t.startDaemon({ owner: 'survivor' });
    await waitFor('reclaimed and embedded', async () => (await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount === 0, 90_000, 50);
    // Not taken before its lease ran out: each row's vector is written at or after the expiry the dead daemon left.
    const { rows } = await t.pool.query<{ embedded: number; after_lease: number }>(
      `SELECT count(*) FILTER (WHERE l.embedding IS NOT NULL)::int AS embedded,
              count(*) FILTER (WHERE l.embedded_at >= x.expiry)::int AS after_lease
       FROM leads l JOIN unnest($1::text[], $2::timestamptz[]) AS x(id, expiry) ON l.id::text = x.id`,
      [left.rows.map((r) => r.id), left.rows.map((r) => r.expiry)]);
    assert.deepEqual(rows[0], { embedded: 40, after_lease: 40 });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await t.close();
  }
});
