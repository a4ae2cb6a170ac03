// The encoder's run scheduler on its own: runs one at a time, shares time between the sync worker and the HTTP
// API by EMBEDSYNC_SYNC_SHARE while both wait, gives all of it to whichever is alone, and banks no credit.
// Runs "take" time on a clock of the test's own, so the shares are exact rather than at the mercy of timers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunScheduler } from '../src/encoder/run-scheduler.ts';
import { EncodeError, type EncodeSource } from '../src/encoder/types.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Bench {
  readonly s: RunScheduler;
  readonly order: EncodeSource[];
  /** Queues `n` runs of `ms` (on the test clock) for `source`. */
  readonly queue: (source: EncodeSource, n: number, ms: number) => Promise<unknown>[];
}

function bench(share: number): Bench {
  let clock = 0;
  const s = new RunScheduler(share, () => clock);
  const order: EncodeSource[] = [];
  let running = 0;
  return {
    s, order,
    queue: (source, n, ms) => Array.from({ length: n }, () => s.run(source, async () => {
      running += 1;
      assert.equal(running, 1, 'one run at a time');
      order.push(source);
      await sleep(0);
      clock += ms;
      running -= 1;
    })),
  };
}

const count = (xs: readonly EncodeSource[], source: EncodeSource) => xs.filter((x) => x === source).length;

test('equal runs alternate at an even share, even when HTTP queued first', async () => {
  const { order, queue } = bench(0.5);
  await Promise.all([...queue('http', 12, 5), ...queue('sync', 12, 5)]);
  assert.deepEqual(order.slice(0, 12), ['http', 'sync', 'http', 'sync', 'http', 'sync', 'http', 'sync', 'http', 'sync', 'http', 'sync']);
});

test('a larger sync share gives the sync worker that share of the runs while both wait', async () => {
  const { order, queue } = bench(0.8);
  await Promise.all([...queue('http', 20, 5), ...queue('sync', 20, 5)]);
  assert.equal(count(order.slice(0, 20), 'sync'), 16, order.join(' '));
});

test('the share is of time, not of runs: long sync runs against many short HTTP runs', async () => {
  const { s, order, queue } = bench(0.5);
  const http = queue('http', 120, 4);
  await Promise.all(queue('sync', 8, 40));
  // FIFO would have run all 120 HTTP runs (480 ms) before the first sync run.
  const [sync, other] = [s.usedSeconds('sync'), s.usedSeconds('http')];
  assert.ok(Math.abs(sync - 0.32) < 1e-9);
  assert.ok(other >= 0.28 && other <= 0.36, `HTTP used ${(other * 1000).toFixed(0)} ms while sync used 320 ms`);
  await Promise.all(http);
  assert.equal(order.length, 128);
});

test('a source alone gets every run, and banks no credit for the time it was idle', async () => {
  const { order, queue } = bench(0.5);
  await Promise.all(queue('http', 30, 4));
  assert.equal(count(order, 'http'), 30);
  // Sync was idle all that time: when it arrives and HTTP has more, they share from now on, rather than
  // sync taking the next 30 runs to catch up.
  order.length = 0;
  await Promise.all([...queue('http', 20, 4), ...queue('sync', 20, 4)]);
  assert.equal(count(order.slice(0, 10), 'http'), 5, order.join(' '));
});

test('a source joining while the other runs gets no credit for the part of that run before it asked', async () => {
  let clock = 0;
  const s = new RunScheduler(0.5, () => clock);
  const order: EncodeSource[] = [];
  let joined!: () => void;
  const joinedNow = new Promise<void>((r) => { joined = r; });
  // HTTP alone runs 100 ms; sync asks 90 ms into it, so only the last 10 ms were shared.
  const first = s.run('http', async () => {
    clock += 90;
    await joinedNow;
    clock += 10;
  });
  await sleep(0);
  const run = (source: EncodeSource) => s.run(source, async () => { order.push(source); await sleep(0); clock += 5; });
  const sync = Array.from({ length: 10 }, () => run('sync'));
  const http = Array.from({ length: 10 }, () => run('http'));
  joined();
  await Promise.all([first, ...sync, ...http]);
  // Owed 10 ms: two 5 ms runs, then turns. Credited the whole run, sync would go 20 times in a row.
  assert.deepEqual(order.slice(0, 6), ['sync', 'sync', 'http', 'sync', 'http', 'sync'], order.join(' '));
});

test('tokenizing time charged while both wait counts towards the share', async () => {
  const { s, order, queue } = bench(0.5);
  const charges: [EncodeSource, number][] = [];
  s.onCharge((source, seconds) => charges.push([source, seconds]));
  const runs = [...queue('http', 12, 5), ...queue('sync', 3, 5)];
  s.charge('sync', 0.05); // sync tokenized a batch for 50 ms: HTTP catches up before sync's turn
  await Promise.all(runs);
  assert.deepEqual(order.slice(0, 11), Array(11).fill('http'), order.join(' '));
  assert.equal(charges.length, 16);
  assert.ok(Math.abs(s.usedSeconds('sync') - 0.065) < 1e-9);
});

test('a source holding a batch between runs keeps the encoder free while it is behind, and lets go', async () => {
  const { s, order, queue } = bench(0.5);
  const release = s.hold('sync');
  await Promise.all(queue('sync', 1, 5));
  // Sync used 5 ms and is ahead: HTTP goes. Then sync is behind, so the next HTTP run waits for sync's next run.
  const http = queue('http', 3, 5);
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(order, ['sync', 'http']);
  await Promise.all(queue('sync', 1, 5));
  assert.deepEqual(order, ['sync', 'http', 'sync', 'http']);
  release();
  await Promise.all(http);
  assert.deepEqual(order, ['sync', 'http', 'sync', 'http', 'http']);
});

test('time kept free for a source counts as its own, so a hold never stops the other source for long', async (t) => {
  // The test clock and the scheduler's timers (mocked) move together, a millisecond at a time: exact, whatever the load.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let clock = 0;
  const s = new RunScheduler(0.5, () => clock);
  const release = s.hold('sync'); // a batch in hand that never asks for the encoder
  let done = 0;
  const runs = Array.from({ length: 5 }, () => s.run('http', async () => { clock += 10; }).then(() => { done += 1; }));
  while (done < 5 && clock < 10_000) {
    await new Promise((r) => setImmediate(r));
    if (done === 5) break;
    clock += 1;
    t.mock.timers.tick(1);
  }
  await Promise.all(runs);
  // Half of the time is kept for sync, the other half runs HTTP: 5 runs of 10 ms with the encoder kept free for
  // 10 ms between each two of them (sync owed 10 ms after each run, at an even share; a gap is rounded up to the
  // next millisecond, so one of float error may add one).
  assert.ok(clock >= 90 && clock <= 94, `5 HTTP runs of 10 ms took ${clock} ms next to an idle hold`);
  assert.equal(s.usedSeconds('sync'), 0, 'kept-free time is not reported as work');
  release();
});

test('a waiting run whose signal aborts leaves the queue and never runs; failures do not stall the queue', async () => {
  const s = new RunScheduler(0.5);
  const blocker = s.run('sync', () => sleep(40));
  const controller = new AbortController();
  let ran = false;
  const waiting = s.run('http', async () => { ran = true; }, controller.signal);
  const failing = s.run('sync', async () => { throw new Error('model run failed'); });
  const after = s.run('http', async () => 'ok');
  controller.abort(new Error('request timed out'));
  await assert.rejects(waiting, (e: unknown) => e instanceof EncodeError && e.reason === 'timeout');
  await blocker;
  await assert.rejects(failing, /model run failed/);
  assert.equal(await after, 'ok');
  await s.idle();
  assert.equal(ran, false);
  await assert.rejects(s.run('http', async () => 1, AbortSignal.abort()), EncodeError);
});

test('idle() waits for runs in hand; a share outside (0, 1) is refused', async () => {
  const s = new RunScheduler(0.5);
  let done = false;
  void s.run('sync', async () => { await sleep(20); done = true; });
  await s.idle();
  assert.equal(done, true);
  assert.throws(() => new RunScheduler(1), RangeError);
  assert.throws(() => { s.syncShare = 0; }, RangeError);
});
