// A row that ends the process (a native crash in the encoder, an out-of-memory kill) must not crash-loop the
// daemon: the crash drill (EMBEDSYNC_CRASH_DRILL_TEXT) kills `embedsync run` with SIGKILL whenever the marker
// row is encoded, and a supervisor restarts it, as systemd or Kubernetes would. The rows around it get their
// vectors, the marker row ends in the dead letters saying why, after a bounded number of restarts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import type { ClaimedRow } from '../src/queue/queue.ts';
import { endsLimit, splitSuspects, suspectBatchSize, SuspectGate } from '../src/sync/suspects.ts';
import { setupSyncDb, TEST_ENV, waitFor } from './helpers/sync.ts';
import { FULL_SUITE_ONLY } from './helpers/tier.ts';

const row = (id: string, claims: number): ClaimedRow => ({ id, lane: 'bulk', version: '1', attempts: 0, lastError: null, claims });

test('splitSuspects: all of a clean claim; the most suspect rows in a halved batch; dead letters past the limit', () => {
  const clean = [row('a', 1), row('b', 1)];
  assert.deepEqual(splitSuspects(clean, 8, 2), { keep: clean, giveBack: [], bury: [], ends: 0 });
  // Ends seen: a 0, b..i 1 (8 of them), j 2, k 2, l 2.
  const mixed = [row('a', 1), ...'bcdefghi'.split('').map((id) => row(id, 2)), row('j', 3), row('k', 3), row('l', 3)];
  const s = splitSuspects(mixed, 8, 2);
  assert.equal(s.ends, 2);
  assert.deepEqual(s.keep.map((r) => r.id), ['j', 'k'], 'two ends with a cap of 8: batches of 2, of the rows with the most ends');
  assert.equal(s.giveBack.length, 10);
  assert.deepEqual([1, 2, 3, 4, 5].map((e) => suspectBatchSize(8, e)), [4, 2, 1, 1, 1]);
  assert.equal(endsLimit(8, 2), 5);
  const dead = splitSuspects([row('p', 6), row('q', 5)], 8, 2);
  assert.deepEqual(dead.bury.map((b) => [b.row.id, b.error]), [['p', 'the process ended while encoding this row 5 times']]);
  assert.deepEqual(dead.keep.map((r) => r.id), ['q']);
});

test('SuspectGate: careful, one loop at a time; open, side by side; careful again once suspects show', async () => {
  const gate = new SuspectGate();
  const first = await gate.enter();
  assert.equal(first.exclusive, true);
  let second: Awaited<ReturnType<SuspectGate['enter']>> | undefined;
  const waiting = gate.enter().then((p) => { second = p; });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(second, undefined, 'a careful gate lets one loop in');
  gate.found(false);
  first.leave();
  await waiting;
  assert.equal(second!.exclusive, false);
  const third = await gate.enter();
  assert.equal(third.exclusive, false, 'open: side by side');
  gate.found(true);
  let fourth: Awaited<ReturnType<SuspectGate['enter']>> | undefined;
  const waiting4 = gate.enter().then((p) => { fourth = p; });
  second!.leave();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(fourth, undefined, 'careful again: waits until no other loop holds rows');
  third.leave();
  third.leave();
  await waiting4;
  assert.equal(fourth!.exclusive, true);
});

test('a row that kills the process: restarted by a supervisor, every other row embedded, ' +
  'the row dead-lettered after a bounded number of restarts', FULL_SUITE_ONLY, async () => {
  const marker = 'CRASH-DRILL-7f3a';
  const env = {
    ...TEST_ENV, EMBEDSYNC_BATCH_SIZE: '8', EMBEDSYNC_MAX_ATTEMPTS: '2', EMBEDSYNC_LEASE_SECONDS: '1',
    EMBEDSYNC_CRASH_DRILL_TEXT: marker, EMBEDDING_SESSIONS: '1', EMBEDDING_THREADS: '1', EMBEDSYNC_WORKERS: '2',
  };
  const t = await setupSyncDb(env);
  // The bound: floor(log2 8) ends to stand alone, then EMBEDSYNC_MAX_ATTEMPTS ends alone.
  const bound = endsLimit(8, 2);
  let child: ChildProcess | undefined;
  let stopping = false;
  let kills = 0;
  let logs = '';
  try {
    await t.pool.query(`INSERT INTO leads (title) SELECT 'lead ' || g FROM generate_series(1, 40) g`);
    await t.look(); // queued before the daemon starts: the drain below waits for all of them
    const poison = (await t.pool.query<{ id: string }>(
      `UPDATE leads SET description = 'a row that crashes the encoder ${marker}' WHERE title = 'lead 13' RETURNING id::text`)).rows[0]!.id;
    // The supervisor: restarts the service whenever it dies, as `Restart=always` would.
    const start = (): void => {
      child = spawn(process.execPath, ['bin/embedsync.js', 'run', '--no-http'], {
        env: { ...process.env, ...env, DATABASE_URL: t.db.url, EMBEDDING_MODEL: TINY_MODEL_DIR, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (b: Buffer) => { logs += b.toString(); });
      child.stderr!.on('data', (b: Buffer) => { logs += b.toString(); });
      child.once('exit', (_code, signal) => {
        if (stopping) return;
        if (signal === 'SIGKILL') kills += 1;
        if (kills <= bound + 2) start();
      });
    };
    start();
    await waitFor('the queue drained', async () => (await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount === 0, 90_000, 200);
    // A verification step from the first row, after the dead-lettering: it leaves the row in the dead letters,
    // where a step that queued it again would start the crashes over.
    const verified = `SELECT rows_total::int AS n FROM embedsync.sweep WHERE pass = 'verify'`;
    const before = (await t.pool.query<{ n: number }>(verified)).rows[0]!.n;
    await t.pool.query(`UPDATE embedsync.sweep SET due_at = now(), position = NULL WHERE pass = 'verify'`);
    await waitFor('a verification step', async () => (await t.pool.query<{ n: number }>(verified)).rows[0]!.n >= before + 40, 20_000, 50);
    assert.equal((await t.pool.query('SELECT 1 FROM embedsync.queue')).rowCount, 0, 'verification left the dead letter alone');
    stopping = true;
    const last = child!;
    if (last.exitCode === null && last.signalCode === null) {
      last.kill('SIGTERM');
      await once(last, 'exit');
    }
    const embedded = await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM leads WHERE embedding IS NOT NULL AND id <> $1',
      [poison]);
    assert.equal(embedded.rows[0]!.n, 39, 'every other row has its vector');
    const dead = await t.pool.query<{ id: string; last_error: string }>('SELECT id, last_error FROM embedsync.deadletter');
    assert.deepEqual(dead.rows, [{ id: poison, last_error: `the process ended while encoding this row ${bound} times` }]);
    assert.ok(kills >= 1 && kills <= bound, `${kills} restarts, at most ${bound}`);
    assert.equal(kills, bound, 'one crash per halving of its batch, then EMBEDSYNC_MAX_ATTEMPTS crashes alone');
    assert.match(logs, /"event":"suspect_rows"/);
    assert.match(logs, /"event":"row_dead_lettered"/);
  } finally {
    stopping = true;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await t.close();
  }
});
