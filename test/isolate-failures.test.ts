// isolateFailures on its own: one try when all is well; halving down to the bad item otherwise; an error that
// names its item fails just that one and retries the rest together; other errors end it; halves one after
// the other unless told otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolateFailures, type Isolation } from '../src/lib/isolate-failures.ts';

class Bad extends Error {
  constructor(readonly index?: number) { super(index === undefined ? 'bad somewhere' : `bad at ${index}`); }
}

/** Doubles numbers; fails a piece holding a negative one (naming its index when `blame`), or `fatal`. */
function doubler(o: { blame?: boolean; fatal?: number } = {}) {
  const calls: number[][] = [];
  const failed: string[] = [];
  const isolation: Isolation<number, number[]> = {
    attempt: async (piece) => {
      calls.push([...piece]);
      const i = piece.findIndex((n) => n < 0);
      if (i >= 0) throw new Bad(o.blame ? i : undefined);
      if (piece.includes(o.fatal ?? NaN)) throw new Error('fatal');
      return piece.map((n) => n * 2);
    },
    isolates: (err) => err instanceof Bad,
    blame: (err) => (err as Bad).index,
    failed: (item, err, index) => {
      failed.push(`${item}@${index}: ${(err as Error).message}`);
      return [];
    },
    join: (parts) => parts.flat(),
  };
  return { calls, failed, isolation };
}

test('a batch that works is tried once; an empty one too', async () => {
  const d = doubler();
  assert.deepEqual(await isolateFailures([1, 2, 3], d.isolation), [2, 4, 6]);
  assert.deepEqual(await isolateFailures([], d.isolation), []);
  assert.deepEqual(d.calls, [[1, 2, 3], []]);
});

test('without a named index the batch is halved until the bad item stands alone, in order', async () => {
  const d = doubler();
  assert.deepEqual(await isolateFailures([1, 2, -3, 4, 5], d.isolation), [2, 4, 8, 10]);
  assert.deepEqual(d.calls, [[1, 2, -3, 4, 5], [1, 2], [-3, 4, 5], [-3], [4, 5]]);
  assert.deepEqual(d.failed, ['-3@2: bad somewhere']);
});

test('an error naming its index fails that item; the rest are tried again together', async () => {
  const d = doubler({ blame: true });
  assert.deepEqual(await isolateFailures([1, -2, 3, -4, 5], d.isolation), [2, 6, 10]);
  assert.deepEqual(d.calls, [[1, -2, 3, -4, 5], [1, 3, -4, 5], [1, 3, 5]]);
  // The second error names index 2 of the retried piece; failed() is told the item's index in the batch.
  assert.deepEqual(d.failed, ['-2@1: bad at 1', '-4@3: bad at 2']);
});

test('errors that are not the items\' fault end it, from any depth', async () => {
  const d = doubler({ fatal: 5 });
  await assert.rejects(isolateFailures([1, -2, 3, 4, 5], d.isolation), /fatal/);
  assert.deepEqual(d.calls, [[1, -2, 3, 4, 5], [1, -2], [1], [-2], [3, 4, 5]]);
});

test('`at` is the batch index of each piece; failed() may throw; each() may run the halves at once', async () => {
  const seen: string[] = [];
  let inFlight = 0;
  let peak = 0;
  const run = isolateFailures(['a', 'b', 'c', 'X'], {
    attempt: async (piece, at) => {
      seen.push(`${piece.join('')}@${at}`);
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight -= 1;
      if (piece.includes('X')) throw new Bad();
      return piece.length;
    },
    isolates: (err) => err instanceof Bad,
    failed: (item, _, index) => { throw new Error(`refused ${item} at ${index}`); },
    join: (parts) => parts.reduce((a, b) => a + b, 0),
    each: async (halves) => {
      const settled = await Promise.allSettled(halves.map((h) => h()));
      for (const s of settled) if (s.status === 'rejected') throw s.reason;
      return settled.map((s) => (s as PromiseFulfilledResult<number>).value);
    },
  });
  await assert.rejects(run, /refused X at 3/);
  assert.deepEqual(seen, ['abcX@0', 'ab@0', 'cX@2', 'c@2', 'X@3']);
  assert.equal(peak, 2, 'halves ran at once');
});
