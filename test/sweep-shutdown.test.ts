// The reconciliation sweep is part of shutdown: stop() ends a sweep under way between two chunks instead of
// waiting for it to walk the rest of the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setupSyncDb, waitFor } from './helpers/sync.ts';

test('stop() during a reconciliation sweep of a large table returns within a chunk, not at the end of the sweep', async () => {
  const rows = 300_000;
  const t = await setupSyncDb({ EMBEDSYNC_SWEEP_INTERVAL_MS: '1000' });
  try {
    // Rows with no text that are up to date: the sweep walks them all and enqueues none, and the daemon has
    // nothing to encode, so only the sweep runs.
    await t.pool.query('ALTER TABLE leads DISABLE TRIGGER USER');
    await t.pool.query(
      `INSERT INTO leads (title, model_checksum, embedding_text_hash, embedded_at)
       SELECT NULL, $1, md5('')::uuid, now() FROM generate_series(1, $2::int)`, [t.encoder.info.checksum, rows]);
    await t.pool.query('ALTER TABLE leads ENABLE TRIGGER USER');
    await t.pool.query('ANALYZE leads');

    const probe = await t.startDaemon({ env: { EMBEDSYNC_SWEEP_INTERVAL_MS: '86400000' } });
    const t0 = performance.now();
    const full = await probe.sweep();
    const fullMs = performance.now() - t0;
    assert.deepEqual(full, { scanned: rows, enqueued: 0 });
    await probe.stop();

    const d = await t.startDaemon({ env: { EMBEDSYNC_SWEEP_INTERVAL_MS: '86400000' } });
    // A full reconciliation has started: its chunk query is running on the daemon's pool.
    const sweeping = d.sweep().catch(() => undefined);
    await waitFor('sweep under way', async () => (await t.pool.query(
      "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%enqueue%' AND pid <> pg_backend_pid()")).rowCount! > 0,
    5000, 5);
    const s0 = performance.now();
    await d.stop();
    const stopMs = performance.now() - s0;
    await sweeping;
    assert.ok(stopMs < fullMs / 3, `stop took ${stopMs.toFixed(0)} ms; a whole sweep takes ${fullMs.toFixed(0)} ms`);
    await new Promise((r) => setTimeout(r, 300));
    const still = await t.pool.query(
      "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%enqueue%' AND state = 'active' AND pid <> pg_backend_pid()");
    assert.equal(still.rowCount, 0, 'no sweep query runs after stop()');
  } finally {
    await t.close();
  }
});
