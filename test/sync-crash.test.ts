// A daemon killed with SIGKILL in the middle of a batch: its lease runs out and another daemon finishes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setupSyncDb, waitFor } from './helpers/sync.ts';

test('kill -9 mid-batch: the batch is reclaimed after the lease and completed', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_LEASE_SECONDS: '2' });
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/sync-child.ts', t.db.url], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await t.pool.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 40) g`);
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    await waitFor('child encoding', async () => out.includes('encoding'), 15_000);
    const leased = await t.pool.query(`SELECT 1 FROM embedsync.queue WHERE lease_owner LIKE 'doomed/%' AND next_attempt_at > now()`);
    assert.equal(leased.rowCount, 40, 'the whole batch is under the dead daemon\'s lease');
    child.kill('SIGKILL');
    await once(child, 'exit');
    const killedAt = Date.now();

    await t.startDaemon({ owner: 'survivor' });
    await new Promise((r) => setTimeout(r, 500));
    const stillQueued = await t.pool.query('SELECT 1 FROM embedsync.queue');
    assert.equal(stillQueued.rowCount, 40, 'leased rows are not taken before the lease expires');
    await waitFor('reclaimed and embedded', async () => (await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount === 0, 10_000);
    const done = await t.pool.query('SELECT 1 FROM leads WHERE embedding IS NOT NULL');
    assert.equal(done.rowCount, 40);
    assert.ok(Date.now() - killedAt < 6000, 'completed soon after the lease ran out');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await t.close();
  }
});
