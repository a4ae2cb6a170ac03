// The claim loop's stop(): prompt whatever the loop is doing when it comes, including a claim still out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkerLoop } from '../src/sync/worker-loop.ts';

test('stop() during a claim that finds nothing ends the loop at once, not after the poll interval', { timeout: 10_000 }, async () => {
  let claimed!: () => void;
  const claimStarted = new Promise<void>((r) => { claimed = r; });
  let finishClaim!: () => void;
  const loop = startWorkerLoop<number>({
    fetch: () => new Promise((resolve) => { claimed(); finishClaim = () => resolve(null); }),
    process: async () => {},
    pollIntervalMs: 60_000,
    debounceMs: 0,
    onError: (err) => { throw err; },
  });
  await claimStarted;
  const stopped = loop.stop();
  const t0 = performance.now();
  finishClaim();
  let done = false;
  await Promise.race([stopped.then(() => { done = true; }), new Promise((r) => setTimeout(r, 2000))]);
  assert.ok(done, `stop() still waiting ${(performance.now() - t0).toFixed(0)} ms after the empty claim (poll interval 60 s)`);
});

// The timeout turns a wake() that does not cut the sleep (a 60 s poll interval) into a failure, not a hang.
test('wake() cuts the idle sleep short and stop() is idempotent', { timeout: 10_000 }, async () => {
  let claims = 0;
  let second!: () => void;
  const claimedTwice = new Promise<void>((r) => { second = r; });
  const loop = startWorkerLoop<number>({
    fetch: async () => { if (++claims === 2) second(); return null; },
    process: async () => {},
    pollIntervalMs: 60_000,
    debounceMs: 0,
    onError: (err) => { throw err; },
  });
  while (claims < 1) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 20));
  loop.wake();
  await claimedTwice;
  assert.equal(claims, 2);
  const a = loop.stop();
  assert.equal(loop.stop(), a);
  await a;
});

test('pass() resolves when a claim begun after it has returned, not the claim already out; at once on a stopped loop', {
  timeout: 10_000,
}, async () => {
  const claims: (() => void)[] = [];
  const loop = startWorkerLoop<number>({
    fetch: () => new Promise((resolve) => { claims.push(() => resolve(null)); }),
    process: async () => {},
    pollIntervalMs: 60_000,
    debounceMs: 0,
    onError: (err) => { throw err; },
  });
  while (claims.length < 1) await new Promise((r) => setImmediate(r));
  let passed = false;
  const pass = loop.pass().then(() => { passed = true; });
  claims[0]!();
  while (claims.length < 2) await new Promise((r) => setImmediate(r));
  assert.equal(passed, false, 'the claim that was out when pass() was called does not count');
  claims[1]!();
  await pass;
  await loop.stop();
  await loop.pass();
});
