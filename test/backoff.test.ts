// The one backoff policy: doubling from the base, capped, the exponent held at maxExponent, and each jitter's
// range, with the random source pinned so the numbers are exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoff } from '../src/lib/backoff.ts';
import { retryDelayMs, DEFAULT_RETRY_POLICY } from '../src/encoder/remote/retry-policy.ts';

test('without jitter the step doubles from baseMs and stops at maxMs', () => {
  const b = backoff({ baseMs: 100, maxMs: 1000 });
  assert.deepEqual([0, 1, 2, 3, 4, 5, 50].map((n) => b.delayMs(n)), [100, 200, 400, 800, 1000, 1000, 1000]);
  // A counter that runs on for ever still gives the cap, not Infinity or NaN.
  assert.equal(b.delayMs(5000), 1000);
});

test('maxExponent holds the exponent where the cap alone would not', () => {
  const b = backoff({ baseMs: 250, maxMs: 10_000, maxExponent: 3 });
  assert.deepEqual([0, 3, 4, 10].map((n) => b.delayMs(n)), [250, 2000, 2000, 2000]);
  assert.equal(backoff({ baseMs: 500, maxMs: Infinity }).delayMs(4), 8000);
});

test('half jitter lies between half the step and the step; spread between half and one and a half times it', () => {
  const half = backoff({ baseMs: 100, maxMs: 1000, jitter: 'half' });
  assert.equal(half.delayMs(2, () => 0), 200);
  assert.equal(half.delayMs(2, () => 0.5), 300);
  assert.equal(half.delayMs(9, () => 1), 1000);
  const spread = backoff({ baseMs: 40, maxMs: 2000, maxExponent: 6, jitter: 'spread' });
  assert.equal(spread.delayMs(0, () => 0), 20);
  assert.equal(spread.delayMs(0, () => 1), 60);
  assert.equal(spread.delayMs(9, () => 0.5), 2000);
  for (let i = 0; i < 200; i++) {
    const d = half.delayMs(3);
    assert.ok(d >= 400 && d <= 800, String(d));
    const s = spread.delayMs(6);
    assert.ok(s >= 1000 && s < 3000, String(s));
  }
});

test('the remote retry delay keeps its numbers: equal jitter, rounded; Retry-After plus up to 10%', () => {
  assert.equal(retryDelayMs(DEFAULT_RETRY_POLICY, 0, undefined, () => 0), 50);
  assert.equal(retryDelayMs(DEFAULT_RETRY_POLICY, 2, undefined, () => 0.25), 250);
  assert.equal(retryDelayMs(DEFAULT_RETRY_POLICY, 10, undefined, () => 1), 2000);
  assert.equal(retryDelayMs(DEFAULT_RETRY_POLICY, 0, 1000, () => 1), 1100);
});
