// Every migrate path that changes columns waits for the migrate lock: --abort and --in-place must not drop
// shadow columns under a migration that another `embedsync migrate` is running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { MIGRATE_LOCK_KEY } from '../src/db/migrate-lock.ts';
import { setupMigrateDb, type MigrateTestDb } from './helpers/migrate-db.ts';
import { modelVariantsForTests } from './helpers/model-variants.ts';

const variants = modelVariantsForTests({ small: { hidden: 48, seed: 7 } });

async function columns(t: MigrateTestDb): Promise<string[]> {
  const { rows } = await t.pool.query<{ c: string }>(
    `SELECT attname || ' ' || format_type(atttypid, atttypmod) AS c FROM pg_attribute
     WHERE attrelid = 'leads'::regclass AND NOT attisdropped AND attname LIKE 'embedding%' ORDER BY attname`);
  return rows.map((r) => r.c);
}

/** Holds the migrate lock from another session, as a running `embedsync migrate` does, until release(). */
async function holdMigrateLock(url: string): Promise<{ release(): Promise<void> }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATE_LOCK_KEY.toString()]);
  return { release: async () => { await c.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATE_LOCK_KEY.toString()]); await c.end(); } };
}

async function settledWithin<T>(p: Promise<T>, ms: number): Promise<boolean> {
  let settled = false;
  void p.then(() => { settled = true; }, () => { settled = true; });
  await new Promise((r) => setTimeout(r, ms));
  return settled;
}

test('--abort and --in-place wait for the migrate lock before they drop anything', async () => {
  const t = await setupMigrateDb(60);
  try {
    const a = await t.encoder(TINY_MODEL_DIR);
    const b = await t.encoder(variants.small);
    await t.migrate({ encoder: a });
    await t.embedAll(a);
    // A shadow migration stopped after its backfill: shadow columns in place.
    await assert.rejects(t.migrate({ encoder: b, fault: (p) => { if (p === 'after-backfill') throw new Error('stopped'); } }));
    const shadow = await columns(t);
    assert.deepEqual(shadow, ['embedding vector(64)', 'embedding_next vector(48)', 'embedding_text_hash uuid',
      'embedding_text_hash_next uuid', 'embedding_tsv tsvector']);

    let lock = await holdMigrateLock(t.db.url);
    const abort = t.migrate({ encoder: b, abort: true });
    assert.equal(await settledWithin(abort, 700), false, '--abort waits while another migrate holds the lock');
    assert.deepEqual(await columns(t), shadow, 'nothing dropped meanwhile');
    await lock.release();
    assert.match((await abort).lines.join('\n'), /aborted; shadow columns dropped/);
    assert.deepEqual(await columns(t), ['embedding vector(64)', 'embedding_text_hash uuid', 'embedding_tsv tsvector']);

    lock = await holdMigrateLock(t.db.url);
    const inPlace = t.migrate({ encoder: b, inPlace: true });
    assert.equal(await settledWithin(inPlace, 700), false, '--in-place waits while another migrate holds the lock');
    assert.deepEqual(await columns(t), ['embedding vector(64)', 'embedding_text_hash uuid', 'embedding_tsv tsvector'],
      'nothing dropped meanwhile');
    await lock.release();
    assert.match((await inPlace).lines.join('\n'), /in place: dropped the vector\(64\) column/);
    assert.deepEqual(await columns(t), ['embedding vector(48)', 'embedding_text_hash uuid', 'embedding_tsv tsvector']);
  } finally {
    await t.close();
  }
});
