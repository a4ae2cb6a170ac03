// The encoder's optional capabilities (pace, scheduler, availability) are members of its contract: the local
// encoder has a pace and a scheduler and no availability, and the daemon tests' wrapper passes them through
// live, so a daemon on a wrapped encoder sizes its claims and shares the workers as it does in production.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestEncoder, instrument } from './helpers/sync.ts';

test('the local encoder has a pace and a scheduler; a wrapped one reads them through, the pace as it changes', async () => {
  const inner = await createTestEncoder();
  try {
    const wrapped = instrument(inner);
    assert.ok(inner.pace && inner.pace.tokensPerSecond > 0, 'the local encoder has a pace');
    assert.ok(inner.scheduler, 'the local encoder has a scheduler');
    assert.equal(inner.availability, undefined, 'only a remote encoder has an availability');
    assert.equal(wrapped.scheduler, inner.scheduler);
    assert.equal(wrapped.availability, undefined);
    const before = wrapped.pace!;
    assert.deepEqual(before, inner.pace);
    // Runs teach the local encoder its speed: the wrapper's pace follows, it is not a copy made when wrapped.
    for (let i = 0; i < 5; i++) await wrapped.encode(Array.from({ length: 16 }, (_, j) => `текст номер ${i}-${j} `.repeat(20)), 'document');
    assert.notDeepEqual(inner.pace, before, 'encoding changed the measured pace');
    assert.deepEqual(wrapped.pace, inner.pace);
  } finally {
    await inner.close();
  }
});
