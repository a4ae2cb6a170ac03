// Dimension migration (shadow columns) on a live table: readers never fail and switch to the new model at
// the swap; daemons on the old model keep the old column current until then, and stand idle after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { getSyncStatus } from '../src/sync/status.ts';
import { setupMigrateDb, type MigrateTestDb } from './helpers/migrate-db.ts';
import { modelVariantsForTests } from './helpers/model-variants.ts';
import { cosine, parseVector, waitFor } from './helpers/sync.ts';
import { FULL_SUITE_ONLY } from './helpers/tier.ts';

const variants = modelVariantsForTests({ small: { hidden: 48, seed: 7 } });

interface Reading { readonly t: number; readonly ok: boolean; readonly dims: number; readonly ids: string; readonly error?: string }

/**
 * Similarity queries in a loop on their own connection, as the backend would run them. more(n): resolves once n
 * more readings are in, so a phase of the migration is read however slow the machine.
 */
function readerLoop(url: string, probeId: string): { more(n: number): Promise<void>; stop(): Promise<Reading[]> } {
  const out: Reading[] = [];
  let stopping = false;
  const c = new pg.Client({ connectionString: url });
  const done = (async () => {
    await c.connect();
    // probes = lists: the index scan is exhaustive, so results must equal exact search, before and after.
    await c.query('SET ivfflat.probes = 100');
    while (!stopping) {
      const t = performance.now();
      for (const sql of [
        `SELECT string_agg(s.id::text, ',' ORDER BY s.score DESC, s.id) AS ids, min(vector_dims(l.embedding)) AS dims
         FROM embedsync.similar_to($1, 10) s JOIN leads l ON l.id = s.id`,
        `SELECT string_agg(id::text, ',' ORDER BY d, id) AS ids, min(dims) AS dims FROM (
           SELECT id, embedding <=> (SELECT embedding FROM leads WHERE id = $1) AS d, vector_dims(embedding) AS dims
           FROM leads WHERE id <> $1 ORDER BY embedding <=> (SELECT embedding FROM leads WHERE id = $1) LIMIT 10) x`,
      ]) {
        try {
          const r = await c.query<{ ids: string; dims: number }>(sql, [probeId]);
          out.push({ t, ok: true, dims: r.rows[0]!.dims, ids: r.rows[0]!.ids });
        } catch (err) {
          out.push({ t, ok: false, dims: 0, ids: '', error: (err as Error).message });
        }
      }
    }
    await c.end();
  })();
  return {
    async more(n) { const want = out.length + n; await waitFor(`${want} readings`, async () => out.length >= want, 10_000, 5); },
    async stop() { stopping = true; await done; return out; },
  };
}

async function exactTop10(pool: pg.Pool, id: string): Promise<string> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SET LOCAL enable_indexscan = off');
    const r = await c.query<{ ids: string }>(
      `SELECT string_agg(id::text, ',' ORDER BY d, id) AS ids FROM (
         SELECT id, embedding <=> (SELECT embedding FROM leads WHERE id = $1) AS d FROM leads WHERE id <> $1
         ORDER BY 2 LIMIT 10) x`, [id]);
    await c.query('COMMIT');
    return r.rows[0]!.ids;
  } finally {
    c.release();
  }
}

async function expectEmbeddedBy(t: MigrateTestDb, enc: Encoder, ids: readonly string[]): Promise<void> {
  const { rows } = await t.pool.query<{ id: string; doc: string; e: string; c: string }>(
    `SELECT id::text, concat_ws('. ', nullif(btrim(title), ''), nullif(btrim(description), '')) AS doc,
       embedding::text AS e, model_checksum AS c
     FROM leads WHERE id = ANY ($1::bigint[]) ORDER BY id`, [ids]);
  assert.equal(rows.length, ids.length);
  const want = (await enc.encode(rows.map((r) => r.doc), 'document')).vectors;
  rows.forEach((r, i) => {
    assert.equal(r.c, enc.info.checksum, `row ${r.id} checksum`);
    assert.ok(cosine(parseVector(r.e), want[i]!) > 0.9999, `row ${r.id} holds the vector of its current text`);
  });
}

test('64 -> 48 dimensions on 5,000 rows under query load: no failed query, results switch at the swap', FULL_SUITE_ONLY, async () => {
  const t = await setupMigrateDb(5000);
  try {
    const oldEnc = await t.encoder(TINY_MODEL_DIR);
    const newEnc = await t.encoder(variants.small);
    assert.notEqual(oldEnc.info.dimensions, newEnc.info.dimensions);
    const first = await t.migrate({ encoder: oldEnc });
    assert.equal(first.handled, false);
    await t.embedAll(oldEnc);
    // The plain migrate ran before the rows had vectors; the index comes with `index rebuild` (or the next migrate).
    const again = await t.migrate({ encoder: oldEnc });
    assert.match(again.lines.join('\n'), /index leads_embedding_idx built on 5000 rows, lists 5/);

    const probe = '17';
    const oldTop = await exactTop10(t.pool, probe);
    const oldDaemon = await t.startDaemon(oldEnc); // keeps the old column current until the swap
    const readers = readerLoop(t.db.url, probe);
    const changed: string[] = [];
    await readers.more(12); // read before the migration starts (the assertions want more than 10 before the swap)
    const result = await t.migrate({
      encoder: newEnc,
      // Not failures: edits by users while the migration runs.
      fault: async (point) => {
        if (point === 'after-columns' || point === 'after-index') {
          const { rows } = await t.pool.query<{ id: string }>(
            `UPDATE leads SET title = title || ' (${point})' WHERE id IN (SELECT id FROM leads WHERE id % 250 = $1) RETURNING id::text`,
            [point === 'after-columns' ? 3 : 4]);
          changed.push(...rows.map((r) => r.id));
          if (point === 'after-index') {
            // The old-model daemon re-embeds them in the old column while the migration is still going.
            await waitFor('old column current', async () => (await t.pool.query(
              'SELECT 1 FROM leads WHERE id = ANY ($1::bigint[]) AND embedding_text_hash IS DISTINCT FROM ' +
              `md5(concat_ws('. ', nullif(btrim(title), ''), nullif(btrim(description), '')))::uuid`,
              [rows.map((r) => r.id)])).rowCount === 0, 10_000);
          }
        }
      },
    });
    await readers.more(4); // read after the swap (the assertions want more than 2)
    const readings = await readers.stop();
    assert.equal(result.handled, true);
    assert.deepEqual(result.shadow!.steps.map((s) => s.step), ['started', 'columns', 'backfilled', 'indexed', 'swapped', 'done']);

    const failed = readings.filter((r) => !r.ok);
    assert.deepEqual(failed, [], 'no reader query failed');
    const newTop = await exactTop10(t.pool, probe);
    assert.notEqual(oldTop, newTop, 'the two models rank neighbours differently');
    const firstNew = readings.findIndex((r) => r.dims === 48);
    assert.ok(firstNew > 10, 'readers ran before the swap');
    assert.ok(readings.length - firstNew > 2, 'readers ran after the swap');
    for (const [i, r] of readings.entries()) {
      assert.equal(r.dims, i < firstNew ? 64 : 48, `reading ${i} on one side of the swap`);
      assert.equal(r.ids, i < firstNew ? oldTop : newTop, `reading ${i} has that model's neighbours`);
    }

    // After the swap the old-model daemon claims nothing; the new one finishes what changed meanwhile.
    await oldDaemon.stop();
    await t.embedAll(newEnc);
    await expectEmbeddedBy(t, newEnc, [...changed, '1', '2', '2500', '5000']);
    const cols = await t.pool.query<{ attname: string; type: string }>(
      'SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute ' +
      `WHERE attrelid = 'leads'::regclass AND attnum > 0 AND NOT attisdropped AND attname LIKE '%embedding%' ` +
      `OR attname LIKE 'model_checksum%' AND attrelid = 'leads'::regclass AND NOT attisdropped ORDER BY attname`);
    assert.deepEqual(cols.rows.map((r) => `${r.attname} ${r.type}`),
      ['embedding vector(48)', 'embedding_text_hash uuid', 'embedding_tsv tsvector', 'model_checksum text']);
    const idx = await t.pool.query<{ def: string }>(
      `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'leads'::regclass AND NOT indisprimary`);
    // The vector index on the new column, and the sweep's and the new-rows partial indexes again, on the new checksum column.
    assert.deepEqual(idx.rows.map((r) => r.def).sort(), [
      'CREATE INDEX leads_embedding_idx ON public.leads USING ivfflat (embedding vector_cosine_ops) WITH (lists=\'5\')',
      'CREATE INDEX leads_embedsync_fulltext ON public.leads USING gin (embedding_tsv)',
      'CREATE INDEX leads_embedsync_new ON public.leads USING btree (id) WHERE (model_checksum IS NULL)',
      'CREATE INDEX leads_embedsync_stale ON public.leads USING btree (id) ' +
      `WHERE (model_checksum IS DISTINCT FROM '${newEnc.info.checksum}'::text)`]);
    const st = await getSyncStatus(t.pool, t.config(variants.small).source, { exact: true });
    assert.equal(st.dimensions, 48);
    assert.equal(st.modelChecksum, newEnc.info.checksum);
    assert.equal(st.rows.current, 5000);
    assert.equal(st.queue.deadlettered, 0);
  } finally {
    await t.close();
  }
});
