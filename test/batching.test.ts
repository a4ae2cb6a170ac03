// Token-budget batching: every input once, the budget kept, and the least-cost plan (checked against every
// partition of the sorted inputs on small cases).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planBatches, RUN_COST_TOKENS } from '../src/encoder/batching.ts';
import { prng } from '../src/model/prng.ts';

const cost = (lengths: readonly number[], plan: readonly (readonly number[])[]) =>
  plan.reduce((s, b) => s + b.length * Math.max(...b.map((i) => lengths[i]!)) + RUN_COST_TOKENS, 0);

/** The least cost over all ways of cutting the sorted inputs into consecutive batches within the budget. */
function bruteForce(lengths: readonly number[], budget: number): number {
  const sorted = [...lengths].sort((a, b) => b - a);
  let bestCost = Infinity;
  const n = sorted.length;
  for (let mask = 0; mask < 1 << Math.max(0, n - 1); mask++) {
    let total = 0, start = 0, ok = true;
    for (let k = 1; k <= n; k++) {
      if (k === n || mask & (1 << (k - 1))) {
        const padded = (k - start) * sorted[start]!;
        if (padded > budget && k - start > 1) { ok = false; break; }
        total += padded + RUN_COST_TOKENS;
        start = k;
      }
    }
    if (ok) bestCost = Math.min(bestCost, total);
  }
  return bestCost;
}

test('every input appears exactly once and no batch of two or more exceeds the budget', () => {
  const rand = prng(7);
  for (let round = 0; round < 200; round++) {
    const lengths = Array.from({ length: 1 + Math.floor(rand() * 60) }, () => 2 + Math.floor(rand() * 300));
    const budget = 64 + Math.floor(rand() * 2000);
    const plan = planBatches(lengths, budget);
    assert.deepEqual(plan.flat().sort((a, b) => a - b), lengths.map((_, i) => i));
    for (const b of plan) {
      if (b.length > 1) assert.ok(b.length * Math.max(...b.map((i) => lengths[i]!)) <= budget, `batch over budget ${budget}`);
    }
  }
});

test('the plan has the least cost of all cuts of the sorted inputs', () => {
  const rand = prng(11);
  for (let round = 0; round < 150; round++) {
    const lengths = Array.from({ length: 1 + Math.floor(rand() * 11) }, () => 2 + Math.floor(rand() * (rand() < 0.5 ? 40 : 400)));
    const budget = 50 + Math.floor(rand() * 1500);
    assert.equal(cost(lengths, planBatches(lengths, budget)), bruteForce(lengths, budget), `lengths ${lengths.join(',')} budget ${budget}`);
  }
});

test('one long text among short ones gets a batch of its own; equal lengths share one batch', () => {
  const lengths = [20, 22, 500, 21, 19, 20, 23, 18];
  const plan = planBatches(lengths, 8192);
  assert.deepEqual(plan[0], [2]);
  assert.equal(plan.length, 2);
  assert.equal(planBatches(Array(100).fill(40), 8192).length, 1);
  // Over budget: split into as few full batches as fit.
  assert.equal(planBatches(Array(10).fill(100), 400).length, 3);
  // A single input longer than the budget still runs.
  assert.deepEqual(planBatches([5000, 10], 1000), [[0], [1]]);
});
