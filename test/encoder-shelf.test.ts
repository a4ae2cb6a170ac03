// The encoders of a process serving several tables: one load per model however many tables use it, two
// spellings of one model share one copy, a model is closed when its last table lets go, the configured model
// (adopted) is never closed here, and a model that failed to load is tried again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEncoderShelf } from '../src/sync/encoder-shelf.ts';
import { createTestEncoder } from './helpers/sync.ts';
import type { Encoder } from '../src/encoder/types.ts';

/** A real encoder (the tiny model) under a name of our choosing, counting closes. */
function named(inner: Encoder, name: string, checksum = inner.info.checksum): Encoder & { closed: number } {
  const e = { info: { ...inner.info, name, checksum }, encode: inner.encode.bind(inner), closed: 0, close: async () => { e.closed += 1; } };
  return e;
}

test('encoder shelf: shared per model, deduplicated by checksum, closed with its last user, adopted ones kept', async () => {
  const inner = await createTestEncoder();
  try {
    const made: (Encoder & { closed: number })[] = [];
    let fail = true;
    const shelf = createEncoderShelf(async (m) => {
      if (m === 'flaky' && fail) { fail = false; throw new Error('hub unreachable'); }
      const e = named(inner, m, m === 'alias-of-a' ? 'sum-a' : `sum-${m}`);
      made.push(e);
      return e;
    });
    const a1 = await shelf.acquire('a');
    const a2 = await shelf.acquire('a');
    assert.equal(a1, a2);
    const [b, alias] = await Promise.all([shelf.acquire('b'), shelf.acquire('alias-of-a')]);
    assert.equal(alias, a1, 'another spelling of model a shares its copy');
    assert.equal(made.find((e) => e.info.name === 'alias-of-a')!.closed, 1, 'the duplicate load was closed');
    assert.equal(made.length, 3);
    const ok = await (await shelf.acquire('b')).encode(['hello'], 'document');
    assert.equal(ok.vectors.length, 1);

    shelf.release('a');
    shelf.release('a');
    await new Promise((r) => setImmediate(r));
    assert.equal((a1 as Encoder & { closed: number }).closed, 0, 'still used through its other spelling');
    shelf.release('alias-of-a');
    await new Promise((r) => setTimeout(r, 10));
    assert.equal((a1 as Encoder & { closed: number }).closed, 1, 'closed with its last user');
    shelf.release('b');
    shelf.release('b');
    await new Promise((r) => setTimeout(r, 10));
    assert.equal((b as Encoder & { closed: number }).closed, 1);

    const adopted = named(inner, 'configured');
    shelf.adopt('configured', Promise.resolve(adopted));
    assert.equal(await shelf.acquire('configured'), adopted);
    shelf.release('configured');
    await assert.rejects(shelf.acquire('flaky'), /hub unreachable/);
    await new Promise((r) => setImmediate(r));
    assert.equal((await shelf.acquire('flaky')).info.name, 'flaky', 'a failed load is tried again');
    assert.deepEqual([...shelf.byName().keys()].sort(), ['configured', 'flaky']);
    await shelf.closeAll();
    assert.equal(adopted.closed, 0, 'the adopted encoder is its owner\'s to close');
    assert.equal(made.find((e) => e.info.name === 'flaky')!.closed, 1);
  } finally {
    await inner.close();
  }
});
