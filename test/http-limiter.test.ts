// The encode limiter on its own: FIFO waiting, a bounded queue, deadlines for waiting and running tasks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyLimiter, EncodeTimeoutError, OverloadedError } from '../src/http/limiter.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('runs at most maxConcurrent at once, the rest in arrival order', async () => {
  const active: number[] = [];
  let running = 0;
  const order: number[] = [];
  const limiter = new ConcurrencyLimiter({ maxConcurrent: 2, maxQueued: 10, timeoutMs: 5000, onActive: (n) => active.push(n) });
  await Promise.all([0, 1, 2, 3, 4, 5].map((i) => limiter.run(async () => {
    running += 1;
    assert.ok(running <= 2);
    order.push(i);
    await sleep(20);
    running -= 1;
    return i;
  })));
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
  assert.equal(Math.max(...active), 2);
  assert.equal(limiter.running, 0);
});

test('a full queue refuses at once with a Retry-After estimate', async () => {
  const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, maxQueued: 1, timeoutMs: 5000 });
  const first = limiter.run(() => sleep(50));
  const second = limiter.run(() => sleep(50));
  await assert.rejects(limiter.run(() => sleep(1)), (err: unknown) => err instanceof OverloadedError && err.retryAfterSeconds >= 1);
  await Promise.all([first, second]);
});

test('a task that waits past the deadline leaves the queue and never runs', async () => {
  const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, maxQueued: 5, timeoutMs: 60 });
  const blocker = limiter.run(() => sleep(150)).catch((e: unknown) => e);
  let ran = false;
  const waiter = limiter.run(async () => { ran = true; });
  assert.equal(limiter.queued, 1);
  await assert.rejects(waiter, EncodeTimeoutError);
  assert.equal(limiter.queued, 0, 'removed from the queue at its deadline');
  assert.ok((await blocker) instanceof EncodeTimeoutError);
  while (limiter.running > 0) await sleep(5);
  assert.equal(ran, false, 'never started after giving up');
});

test('a running task past the deadline is aborted and answered; its slot frees only when it returns', async () => {
  const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, maxQueued: 0, timeoutMs: 50 });
  let aborted = false;
  let finished = false;
  const started = Date.now();
  await assert.rejects(limiter.run(async (signal) => {
    signal.addEventListener('abort', () => { aborted = true; });
    await sleep(500);
    finished = true;
  }), EncodeTimeoutError);
  assert.ok(Date.now() - started < 400, 'answered at the deadline, not when the task returned');
  assert.ok(aborted);
  assert.equal(limiter.running, 1);
  await assert.rejects(limiter.run(async () => 1), OverloadedError);
  while (!finished || limiter.running > 0) await sleep(5);
  assert.equal(await limiter.run(async () => 1), 1);
});
