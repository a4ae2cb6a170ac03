// The worker loops of one daemon hold their leases under owners of their own (owner/1, owner/2, ...), and a
// lease that lapses while a loop still works on its rows never has two loops of the daemon encode them at once:
// the other loop sees the claim the first has not settled, gives the rows back and waits its turn
// (src/sync/suspects.ts); the first loop's late release touches only rows it still holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EncodeError } from '../src/encoder/types.ts';
import { SuspectGate, type GatePass } from '../src/sync/suspects.ts';
import { instrument, setupSyncDb, waitFor } from './helpers/sync.ts';

/** The daemon's gate, counting the loops held at it. */
class CountingGate extends SuspectGate {
  held = 0;
  override async enter(): Promise<GatePass> {
    this.held += 1;
    try {
      return await super.enter();
    } finally {
      this.held -= 1;
    }
  }
}

test('each worker loop holds its leases under an owner of its own', async () => {
  // Every write in the bulk lane: the daemon's live-only loop (owner/live) stays out of the way of the two loops.
  const t = await setupSyncDb({
    EMBEDSYNC_WORKERS: '2', EMBEDSYNC_BATCH_SIZE: '4', EMBEDSYNC_LEASE_SECONDS: '30', EMBEDSYNC_BULK_ROWS: '0',
  });
  let blocked = 0;
  let release!: () => void;
  const hold = new Promise<void>((r) => { release = r; });
  const enc = instrument(t.encoder, async (texts) => {
    if (!texts.some((x) => x.startsWith('pair'))) return;
    blocked += 1;
    await hold;
  });
  try {
    await t.startDaemon({ encoder: enc, owner: 'pair' });
    await t.pool.query(`INSERT INTO leads (title) VALUES ('warm')`);
    await waitFor('warm row embedded',
      async () => (await t.pool.query(`SELECT 1 FROM leads WHERE title = 'warm' AND embedding IS NOT NULL`)).rowCount === 1);
    await t.pool.query(`INSERT INTO leads (title) SELECT 'pair ' || g FROM generate_series(1, 8) g`);
    await waitFor('both loops encoding', async () => blocked >= 2);
    const owners = await t.pool.query<{ lease_owner: string; n: number }>(
      'SELECT lease_owner, count(*)::int AS n FROM embedsync.queue GROUP BY 1 ORDER BY 1');
    assert.deepEqual(owners.rows, [{ lease_owner: 'pair/1', n: 4 }, { lease_owner: 'pair/2', n: 4 }]);
    release();
    await waitFor('all embedded', async () => (await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount === 0);
  } finally {
    release();
    await t.close();
  }
});

test('a lapsed lease: the other loop never encodes the rows while the first still has them, ' +
  'the first loop\'s release costs nothing', async () => {
  const t = await setupSyncDb({ EMBEDSYNC_WORKERS: '2', EMBEDSYNC_LEASE_SECONDS: '30', EMBEDSYNC_BULK_ROWS: '0' });
  let inFlight = 0;
  let most = 0;
  let calls = 0;
  let releaseFirst!: () => void;
  const first = new Promise<void>((r) => { releaseFirst = r; });
  const enc = instrument(t.encoder, async (texts) => {
    if (!texts.some((x) => x.startsWith('race'))) return;
    calls += 1;
    inFlight += 1;
    most = Math.max(most, inFlight);
    try {
      if (calls === 1) {
        await first;
        // The backend went away meanwhile: the loop gives its rows back without counting an attempt.
        throw new EncodeError('backend unavailable', 'unavailable');
      }
    } finally {
      inFlight -= 1;
    }
  });
  try {
    const gate = new CountingGate();
    const d = await t.startDaemon({ encoder: enc, owner: 'race', gate });
    await t.pool.query(`INSERT INTO leads (title) VALUES ('warm')`);
    await waitFor('warm row embedded',
      async () => (await t.pool.query(`SELECT 1 FROM leads WHERE title = 'warm' AND embedding IS NOT NULL`)).rowCount === 1);

    await t.pool.query(`INSERT INTO leads (title) SELECT 'race ' || g FROM generate_series(1, 3) g`);
    await waitFor('first loop encoding', async () => calls === 1);
    const held = await t.pool.query<{ lease_owner: string }>('SELECT DISTINCT lease_owner FROM embedsync.queue');
    assert.equal(held.rowCount, 1);
    assert.match(held.rows[0]!.lease_owner, /^race\/[12]$/);

    // The lease lapses (a stalled event loop, a renewal that could not reach the database); the other loop
    // claims the rows, sees a claim nobody settled and gives them back until the first loop is done.
    await t.pool.query(`UPDATE embedsync.queue SET next_attempt_at = now() - interval '1 second'`);
    d.wake();
    await waitFor('the other loop claimed and gave back', async () =>
      (await t.pool.query(`SELECT 1 FROM embedsync.queue WHERE lease_owner IS NULL AND claims = 1`)).rowCount === 3);
    // Every loop but the first (the other one and the live-only one) has come round to claim again and is held
    // at the gate until the first is done: none of them can encode the rows now.
    await waitFor('the other loops held at the gate', async () => gate.held === 2);
    assert.equal(calls, 1, 'not encoded by the other loop while the first has it');

    releaseFirst();
    await waitFor('rows embedded', async () => (await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount === 0, 10_000);
    assert.equal(most, 1, 'never two encodes of the rows at once');
    assert.equal((await t.pool.query(`SELECT 1 FROM leads WHERE title LIKE 'race%' AND embedding IS NOT NULL`)).rowCount, 3);
    assert.equal((await t.pool.query('SELECT 1 FROM embedsync.deadletter')).rowCount, 0);
  } finally {
    releaseFirst();
    await t.close();
  }
});
