// Queue building blocks against real Postgres: the binary vector format, claims and leases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeVectorArray } from '../src/db/vector-binary.ts';
import { inspectSource } from '../src/db/source-info.ts';
import { queueOps, vectorTypeOid } from '../src/queue/queue.ts';
import { parseVector, setupSyncDb } from './helpers/sync.ts';

test('vector[] in binary: values, NULL elements and the empty array survive the round trip', async () => {
  const t = await setupSyncDb();
  try {
    const oid = await vectorTypeOid(t.pool);
    const a = new Float32Array([0.1, -2.5, 3e-8, 1 / 3]);
    const b = new Float32Array([Math.PI, 0, -0, 65504.5]);
    const c = Float32Array.from({ length: 768 }, (_, i) => Math.sin(i) * 1e3 ** (i % 3 - 1));
    const { rows } = await t.pool.query<{ v: string | null }>('SELECT unnest($1::vector[])::text AS v',
      [encodeVectorArray([a, null, b, c], oid)]);
    assert.equal(rows.length, 4);
    assert.deepEqual(parseVector(rows[0]!.v!).map(Math.fround), Array.from(a));
    assert.equal(rows[1]!.v, null);
    assert.deepEqual(parseVector(rows[2]!.v!).map(Math.fround), Array.from(b));
    assert.deepEqual(parseVector(rows[3]!.v!).map(Math.fround), Array.from(c));
    const empty = await t.pool.query<{ n: number }>('SELECT cardinality($1::vector[]) AS n', [encodeVectorArray([], oid)]);
    assert.equal(empty.rows[0]!.n, 0);
  } finally {
    await t.close();
  }
});

test('claims skip leased rows, leases expire, and only the holder can release', async () => {
  const t = await setupSyncDb();
  try {
    const ops = queueOps(t.pool, (await inspectSource(t.pool, t.config.source)).sql, await vectorTypeOid(t.pool));
    await t.pool.query(`INSERT INTO leads (title) SELECT 'x' || g FROM generate_series(1, 5) g`);
    await t.look();
    const a = await ops.claim(3, 'a', 1);
    const b = await ops.claim(10, 'b', 30);
    assert.equal(a.length, 3);
    assert.equal(b.length, 2);
    assert.equal(new Set([...a, ...b].map((r) => r.id)).size, 5);
    assert.deepEqual(await ops.claim(10, 'c', 30), []);
    assert.equal(await ops.release(a.map((r) => r.id), 'b'), 0, 'b does not hold a\'s rows');
    await new Promise((r) => setTimeout(r, 1100));
    const c = await ops.claim(10, 'c', 30);
    assert.deepEqual(c.map((r) => r.id).sort(), a.map((r) => r.id).sort(), 'a\'s expired lease is reclaimed');
    assert.equal(await ops.release(a.map((r) => r.id), 'a'), 0, 'a lost its lease');
    assert.equal(await ops.release(c.map((r) => r.id), 'c'), 3);
    const stats = await ops.stats();
    assert.deepEqual([stats.queued, stats.leased], [5, 2]);
  } finally {
    await t.close();
  }
});
