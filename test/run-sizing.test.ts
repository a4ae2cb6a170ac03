// Runs and claims sized by time: the pace learned from runs, the run plan cut to the target duration, claims of
// about one run per session, and the scheduler handing runs to several workers with a query arriving behind a
// backlog going next. Pure logic on a test clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunScheduler } from '../src/encoder/run-scheduler.ts';
import { RunSizer } from '../src/encoder/run-sizer.ts';
import type { EncodeSource } from '../src/encoder/types.ts';
import { ClaimSizer } from '../src/sync/claim-sizer.ts';

test('the pace follows measured runs, and runs are cut to the target duration at that pace', () => {
  const sizer = new RunSizer(1.5, 8192, 512, 1, 100_000);
  // A fast first guess is replaced by what the model really does: 400 padded tokens per second.
  for (let i = 0; i < 12; i++) sizer.observe({ paddedTokens: 800, tokens: 700, bytes: 2800, seconds: 2 });
  assert.ok(Math.abs(sizer.pace.tokensPerSecond - 400) < 5, String(sizer.pace.tokensPerSecond));
  assert.equal(sizer.budget(), 600);
  // 40 texts of ~100 estimated tokens: runs of at most 600 padded tokens, every text once.
  const texts = Array.from({ length: 40 }, (_, i) => 'x'.repeat(280 + i));
  const runs = sizer.plan(texts, 0).map((r) => r.indices);
  assert.deepEqual(runs.flat().sort((a, b) => a - b), texts.map((_, i) => i));
  for (const r of runs) assert.ok(r.length * Math.max(...r.map((i) => sizer.estimate(texts[i]!, 0))) <= 600, `run of ${r.length}`);
  // A text at the model's max length still gets a run, however slow the model.
  sizer.observe({ paddedTokens: 10, tokens: 10, bytes: 30, seconds: 10 });
  assert.ok(sizer.budget() >= 512);
  assert.equal(sizer.plan(['y'.repeat(100_000)], 0).length, 1);
});

test('claims: about one run per session shared among the loops, capped by the batch size and the lease', () => {
  let pace = { tokensPerSecond: 1000, runSeconds: 1.5, parallelRuns: 2 };
  const claims = new ClaimSizer(128, () => pace, 2, 60);
  claims.observe(10, 1000); // rows of ~100 tokens
  for (let i = 0; i < 20; i++) claims.observe(10, 1000);
  // 1000 tokens/s × 1.5 s per loop (2 sessions / 2 loops) ÷ (100 × 1.15 padded) ≈ 13 rows.
  assert.equal(claims.rows(), 13);
  pace = { tokensPerSecond: 1e7, runSeconds: 1.5, parallelRuns: 2 };
  assert.equal(claims.rows(), 128, 'a fast model claims the configured batch size');
  const short = new ClaimSizer(128, () => ({ tokensPerSecond: 1e5, runSeconds: 1.5, parallelRuns: 1 }), 1, 1);
  assert.ok(short.rows() <= Math.floor((1e5 * 0.25) / (128 * 1.15)), 'never more than a quarter of the lease of model time');
  assert.equal(new ClaimSizer(64, () => undefined, 2, 60).rows(), 64, 'remote backends: the batch size');
});

test('two workers: runs go two at a time, and a query behind a sync backlog takes the next free worker', async () => {
  let clock = 0;
  const s = new RunScheduler(0.5, () => clock, 2);
  let running = 0;
  let most = 0;
  const order: EncodeSource[] = [];
  // Each run ends when the test says so: the order does not depend on timers.
  const gates: (() => void)[] = [];
  const run = (source: EncodeSource, ms: number) => s.run(source, async () => {
    running += 1;
    most = Math.max(most, running);
    order.push(source);
    await new Promise<void>((r) => gates.push(r));
    clock += ms;
    running -= 1;
  });
  const backlog = Array.from({ length: 8 }, () => run('sync', 100));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['sync', 'sync'], 'two runs on the two workers');
  const query = run('http', 10);
  gates.shift()!(); // a worker frees up
  await new Promise((r) => setImmediate(r));
  assert.equal(order[2], 'http', `order: ${order.join(' ')}`);
  while (order.length < 9 || gates.length > 0) {
    gates.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all([query, ...backlog]);
  assert.equal(most, 2);
});

test('within a source the smallest run goes first, until the oldest has waited past the aging limit', async () => {
  let clock = 0;
  const s = new RunScheduler(0.5, () => clock, 1, 1000);
  const order: string[] = [];
  const run = (name: string, cost: number, ms: number) => s.run('http', async () => {
    order.push(name);
    await new Promise((r) => setTimeout(r, 1));
    clock += ms;
  }, undefined, cost);
  const first = run('batch-1', 2000, 400); // starts at once
  const rest = [run('batch-2', 2000, 400), run('batch-3', 2000, 400), run('query', 20, 10)];
  await Promise.all([first, ...rest]);
  assert.deepEqual(order, ['batch-1', 'query', 'batch-2', 'batch-3']);
  // A stream of small runs cannot hold a large one back past the aging limit.
  order.length = 0;
  const blocker = run('blocker', 1, 10);
  const big = run('big', 5000, 10);
  const small = Array.from({ length: 8 }, (_, i) => run(`small-${i}`, 10, 300));
  await Promise.all([blocker, big, ...small]);
  // Passed over by small runs for 1000 ms of the test clock (four of them), then it goes.
  assert.equal(order.indexOf('big'), 5, order.join(' '));
});
