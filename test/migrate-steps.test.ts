// Model migrations step by step: a crash at every step of the shadow migration resumes on the next run;
// a same-dimension model change runs the same shadow migration, or with --in-place re-embeds only rows whose
// checksum differs; --dry-run, --abort, --in-place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { EncodeError, type Encoder } from '../src/encoder/types.ts';
import { TooManyRefusedError } from '../src/migration/backfill.ts';
import { FAULT_POINTS, type FaultPoint } from '../src/migration/steps.ts';
import { readModelState } from '../src/db/state-repository.ts';
import { getSyncStatus } from '../src/sync/status.ts';
import { formatStatus } from '../src/cli/status.ts';
import pg from 'pg';
import { adminUrl } from './helpers/db.ts';
import { setupMigrateDb, type MigrateTestDb } from './helpers/migrate-db.ts';
import { modelVariantsForTests } from './helpers/model-variants.ts';
import { cosine, instrument, parseVector } from './helpers/sync.ts';

const variants = modelVariantsForTests({ small: { hidden: 48, seed: 7 }, sibling: { hidden: 64, seed: 8 } });

const ENV = { EMBEDSYNC_INDEX_MIN_ROWS: '100' };

async function vectorColumns(t: MigrateTestDb): Promise<string[]> {
  const { rows } = await t.pool.query<{ c: string }>(
    `SELECT attname || ' ' || format_type(atttypid, atttypmod) AS c FROM pg_attribute
     WHERE attrelid = 'leads'::regclass AND NOT attisdropped AND attname IN
       ('embedding', 'model_checksum', 'embedding_text_hash', 'embedding_next', 'model_checksum_next', 'embedding_text_hash_next')
     ORDER BY attname`);
  return rows.map((r) => r.c);
}

async function expectMigratedTo(t: MigrateTestDb, enc: Encoder, rows: number): Promise<void> {
  assert.deepEqual(await vectorColumns(t), [`embedding vector(${enc.info.dimensions})`, 'embedding_text_hash uuid', 'model_checksum text']);
  const st = await readModelState(t.pool, 'public.leads');
  assert.equal(st?.checksum, enc.info.checksum);
  assert.equal(st?.dimensions, enc.info.dimensions);
  assert.equal(st?.migration, undefined);
  const n = await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM leads WHERE model_checksum = $1 AND embedding IS NOT NULL',
    [enc.info.checksum]);
  assert.equal(n.rows[0]!.n, rows);
  const sample = await t.pool.query<{ doc: string; e: string }>(
    `SELECT concat_ws('. ', title, description) AS doc, embedding::text AS e FROM leads WHERE id IN (1, 150, ${rows}) ORDER BY id`);
  const want = (await enc.encode(sample.rows.map((r) => r.doc), 'document')).vectors;
  sample.rows.forEach((r, i) => assert.ok(cosine(parseVector(r.e), want[i]!) > 0.9999));
  const idx = await t.pool.query<{ name: string; valid: boolean }>(
    'SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid ' +
    `WHERE i.indrelid = 'leads'::regclass AND NOT i.indisprimary`);
  // The vector index, the sweep's partial index of rows not embedded by the current model and the new-rows index
  // (the swap dropped both with the old checksum column; they are back, on the new one), and hybrid search's
  // full-text index, which no model change touches.
  assert.deepEqual(idx.rows.filter((r) => r.name !== 'leads_embedsync_stale' && r.name !== 'leads_embedsync_fulltext')
    .sort((a, b) => a.name.localeCompare(b.name)),
    [{ name: 'leads_embedding_idx', valid: true }, { name: 'leads_embedsync_new', valid: true }]);
  const newRows = await t.pool.query<{ d: string }>(`SELECT pg_get_indexdef('leads_embedsync_new'::regclass) AS d`);
  assert.match(newRows.rows[0]!.d, /WHERE \(model_checksum IS NULL\)/);
  assert.ok(idx.rows.some((r) => r.name === 'leads_embedsync_fulltext' && r.valid));
  const sweepIdx = await t.pool.query<{ d: string }>(`SELECT pg_get_indexdef('leads_embedsync_stale'::regclass) AS d`);
  assert.ok(sweepIdx.rows[0]!.d.includes(`'${enc.info.checksum}'`), sweepIdx.rows[0]!.d);
  const sim = await t.pool.query('SELECT * FROM embedsync.similar_to(5, 10)');
  assert.equal(sim.rowCount, 10);
}

class Crash extends Error {}

test('a crash at every step of the shadow migration is resumed by the next run', async () => {
  const rows = 300;
  const t = await setupMigrateDb(rows, ENV);
  try {
    const a = await t.encoder(TINY_MODEL_DIR);
    const b = await t.encoder(variants.small);
    await t.migrate({ encoder: a });
    await t.embedAll(a);
    await t.migrate({ encoder: a });
    let from = a;
    for (const point of FAULT_POINTS) {
      const to = from === a ? b : a;
      const counted = instrument(to);
      await assert.rejects(t.migrate({
        encoder: counted, chunkSize: 64, fault: (p: FaultPoint) => { if (p === point) throw new Crash(`crash ${p}`); },
      }), Crash);
      const encodedBefore = [...counted.counts.values()].reduce((x, y) => x + y, 0);
      const st = await readModelState(t.pool, 'public.leads');
      const swapped = point === 'after-swap';
      assert.equal(st?.dimensions, (swapped ? to : from).info.dimensions, `${point}: state dimension`);
      assert.equal(st?.migration?.checksum, to.info.checksum, `${point}: the migration is recorded as under way`);
      // Readers are unaffected by the interrupted migration: the current column answers queries.
      assert.equal((await t.pool.query('SELECT * FROM embedsync.similar_to(7, 10)')).rowCount, 10, `${point}: search works`);

      const r = await t.migrate({ encoder: counted, chunkSize: 64 });
      assert.equal(r.handled, true);
      await expectMigratedTo(t, to, rows);
      const encodedTotal = [...counted.counts.values()].reduce((x, y) => x + y, 0);
      if (point === 'mid-backfill') {
        assert.ok(encodedBefore >= 64 && encodedBefore < rows, 'the crashed run had encoded part of the table');
        assert.equal(encodedTotal, rows, 'the rerun encoded only the rest');
      } else {
        assert.equal(encodedTotal, rows, `${point}: every row encoded exactly once across both runs`);
      }
      from = to;
    }
  } finally {
    await t.close();
  }
});

test('a same-dimension model change --in-place re-embeds only rows whose checksum differs, with progress in status', async () => {
  const rows = 300;
  const t = await setupMigrateDb(rows, ENV);
  try {
    const a = await t.encoder(TINY_MODEL_DIR);
    const c = instrument(await t.encoder(variants.sibling));
    assert.equal(a.info.dimensions, c.info.dimensions);
    assert.notEqual(a.info.checksum, c.info.checksum);
    await t.migrate({ encoder: a });
    await t.embedAll(a);
    // 40 rows already carry the new model's vectors (say, a re-embedding that was cut short earlier).
    const done = await t.pool.query<{ id: string; doc: string; h: string }>(
      `SELECT id::text, concat_ws('. ', title, description) AS doc, embedding_text_hash::text AS h FROM leads WHERE id <= 40 ORDER BY id`);
    const pre = (await c.encode(done.rows.map((r) => r.doc), 'document')).vectors;
    for (const [i, r] of done.rows.entries()) {
      await t.pool.query('UPDATE leads SET embedding = $2::vector, model_checksum = $3 WHERE id = $1',
        [r.id, `[${pre[i]!.join(',')}]`, c.info.checksum]);
    }
    c.counts.clear();

    const shadowPlan = (await t.migrate({ encoder: c, dryRun: true })).lines.join('\n');
    assert.match(shadowPlan, /same dimension, new checksum \(was [0-9a-f]{16}\), shadow migration/);
    assert.match(shadowPlan, /backfill 300 of 300 rows: ~\d+s at \d+ rows\/s/);
    assert.match(shadowPlan, /searches keep answering from the current column until the swap/);
    const plan = await t.migrate({ encoder: c, dryRun: true, inPlace: true });
    assert.match(plan.lines.join('\n'), /IN PLACE: same dimension, new checksum/);
    assert.match(plan.lines.join('\n'), /re-embeds 260 of 300 rows: ~\d+s at \d+ rows\/s/);
    c.counts.clear();

    // A row the old model could not embed: the new model gets its chance (the enqueue pass alone leaves dead letters).
    await t.pool.query(`INSERT INTO embedsync.deadletter (source, id, attempts, last_error, enqueued_at)
      VALUES ('public.leads', '300', 3, 'the process ended while encoding this row 5 times', now())`);
    const r = await t.migrate({ encoder: c, inPlace: true });
    assert.equal(r.handled, false, 'no shadow columns for an in-place change');
    assert.equal((await t.pool.query('SELECT 1 FROM embedsync.deadletter')).rowCount, 0);
    assert.deepEqual((await t.pool.query(`SELECT attempts, claims FROM embedsync.queue WHERE id = '300'`)).rows,
      [{ attempts: 0, claims: 0 }]);
    assert.match(r.lines.join('\n'), /next: restart every daemon serving public\.leads/);
    const cfg = t.config(variants.sibling, ENV);
    const before = await getSyncStatus(t.pool, cfg.source);
    assert.deepEqual([before.rows.current, before.rows.stale, before.queue.queued], [40, 260, 260]);
    assert.match(formatStatus(before), /re-embedding +13\.3% done, 260 rows left/);
    // In place, search skips the stale rows meanwhile: only the 40 current ones can be found.
    const found = await t.pool.query<{ id: string }>('SELECT id::text FROM embedsync.similar_to(1, 100)');
    assert.equal(found.rowCount, 39);
    assert.ok(found.rows.every((x) => Number(x.id) <= 40));

    await t.embedAll(c);
    const after = await getSyncStatus(t.pool, cfg.source);
    assert.deepEqual([after.rows.current, after.rows.stale, after.queue.queued], [300, 0, 0]);
    const encoded = [...c.counts.entries()];
    assert.equal(encoded.length, 260, 'only stale rows were encoded');
    assert.ok(encoded.every(([, n]) => n === 1), 'each once');
    assert.ok(done.rows.every((x) => !c.counts.has(x.doc)), 'rows already current were not encoded');
  } finally {
    await t.close();
  }
});

test('a row the new model refuses does not stop the shadow migration: left for the daemons, which dead-letter it; ' +
  'refusals beyond 1% of the table stop it before the swap; the backfill gives dead letters the new model\'s chance', async () => {
  const rows = 300;
  const t = await setupMigrateDb(rows, ENV);
  try {
    const a = await t.encoder(TINY_MODEL_DIR);
    const b = await t.encoder(variants.small);
    await t.pool.query(`UPDATE leads SET description = 'REFUSE-ME' WHERE id = 150`);
    await t.migrate({ encoder: a });
    await t.embedAll(a);
    await t.pool.query(`INSERT INTO embedsync.deadletter (source, id, attempts, last_error, enqueued_at)
      VALUES ('public.leads', '7', 3, 'encode: refused by the old model', now())`);
    // A backend that names the input it refuses, as a remote one does for a 4xx on one input.
    const refusing = (refuse: (text: string) => boolean) => instrument(b, (texts) => {
      const i = texts.findIndex(refuse);
      if (i >= 0) throw new EncodeError(`input ${i} refused`, 'input', i);
    });

    // --dry-run measures its rate on a sample of the table that leaves dead letters out, so a known bad row
    // cannot fail the plan.
    const doc7 = (await t.pool.query<{ d: string }>(`SELECT concat_ws('. ', title, description) AS d FROM leads WHERE id = 7`)).rows[0]!.d;
    const plan = await t.migrate({ encoder: refusing((text) => text === doc7), dryRun: true });
    assert.match(plan.lines.join('\n'), /backfill 300 of 300 rows: ~\d+s at \d+ rows\/s/);

    const all = await t.migrate({ encoder: refusing(() => true), chunkSize: 64 }).catch((err: unknown) => err);
    assert.ok(all instanceof TooManyRefusedError, String(all));
    assert.match(all.message, /refused 64 of 300 rows \(more than 1%.*nothing was swapped/);
    assert.equal((await readModelState(t.pool, 'public.leads'))?.checksum, a.info.checksum, 'not swapped');
    assert.equal((await t.pool.query('SELECT * FROM embedsync.similar_to(5, 10)')).rowCount, 10, 'search answers meanwhile');

    const r = await t.migrate({ encoder: refusing((text) => text.includes('REFUSE-ME')), chunkSize: 64 });
    assert.equal(r.handled, true);
    const out = r.lines.join('\n');
    assert.match(out, /^1 row refused by the new model \(id 150: encode: input 0 refused\): left without a vector/m);
    assert.equal((await readModelState(t.pool, 'public.leads'))?.checksum, b.info.checksum, 'swapped');
    const left = await t.pool.query<{ id: string }>(
      'SELECT id::text FROM leads WHERE embedding IS NULL OR model_checksum IS DISTINCT FROM $1 ORDER BY id', [b.info.checksum]);
    assert.deepEqual(left.rows.map((x) => x.id), ['150']);
    assert.deepEqual((await t.pool.query<{ id: string }>('SELECT id FROM embedsync.queue ORDER BY id')).rows.map((x) => x.id),
      ['150'], 'the refused row is queued for the daemons');
    assert.equal((await t.pool.query('SELECT 1 FROM embedsync.deadletter')).rowCount, 0, 'the backfill embedded the dead letter');
  } finally {
    await t.close();
  }
});

test('--dry-run plans the shadow migration; --abort drops it; --in-place swaps the column type at once', async () => {
  const rows = 200;
  const t = await setupMigrateDb(rows, ENV);
  try {
    const a = await t.encoder(TINY_MODEL_DIR);
    const b = await t.encoder(variants.small);
    await t.migrate({ encoder: a });
    await t.embedAll(a);
    const plan = (await t.migrate({ encoder: b, dryRun: true })).lines.join('\n');
    assert.match(plan, /dimension change 64 -> 48, shadow migration/);
    assert.match(plan, /backfill 200 of 200 rows: ~\d+s at \d+ rows\/s/);
    assert.deepEqual(await vectorColumns(t), ['embedding vector(64)', 'embedding_text_hash uuid', 'model_checksum text'],
      'a dry run changes nothing');

    await assert.rejects(t.migrate({ encoder: b, fault: (p) => { if (p === 'after-backfill') throw new Crash(p); } }), Crash);
    assert.equal((await vectorColumns(t)).length, 6);
    const st = await getSyncStatus(t.pool, t.config(variants.small, ENV).source);
    assert.deepEqual({ ...st.migration },
      { model: variants.small, checksum: b.info.checksum, dimensions: 48, step: 'backfilled', done: 200, total: 200 });
    assert.match(formatStatus(st), /migration +to .* \(48 dimensions\), step backfilled done; new column 200\/200 rows \(100\.0%\)/);
    const aborted = await t.migrate({ encoder: b, abort: true });
    assert.match(aborted.lines.join('\n'), /aborted/);
    assert.deepEqual(await vectorColumns(t), ['embedding vector(64)', 'embedding_text_hash uuid', 'model_checksum text']);
    assert.equal((await readModelState(t.pool, 'public.leads'))?.migration, undefined);

    const inPlace = await t.migrate({ encoder: b, inPlace: true });
    assert.equal(inPlace.handled, false);
    assert.match(inPlace.lines.join('\n'), /in place: dropped the vector\(64\) column/);
    assert.match(inPlace.lines.join('\n'), /enqueued 200/);
    assert.deepEqual(await vectorColumns(t), ['embedding vector(48)', 'embedding_text_hash uuid', 'model_checksum text']);
    await t.embedAll(b);
    await t.migrate({ encoder: b });
    await expectMigratedTo(t, b, rows);
  } finally {
    await t.close();
  }
});

test('a daemon started on the new model writes the shadow columns while the migration runs', async () => {
  const rows = 150;
  const t = await setupMigrateDb(rows, ENV);
  try {
    const a = await t.encoder(TINY_MODEL_DIR);
    const b = instrument(await t.encoder(variants.small));
    await t.migrate({ encoder: a });
    await t.embedAll(a);
    // A least-privilege daemon role (docs/security.md) keeps its column grants through the migration.
    const role = `daemon_${t.db.name}`;
    await t.pool.query(`CREATE ROLE ${role}`);
    await t.pool.query(`GRANT UPDATE (embedding, model_checksum, embedding_text_hash) ON leads TO ${role}`);
    const can = async (col: string) =>
      (await t.pool.query<{ ok: boolean }>(`SELECT has_column_privilege($1, 'leads', $2, 'UPDATE') AS ok`, [role, col])).rows[0]!.ok;
    await assert.rejects(t.startDaemon(b), /holds 64-dimension vectors but .* makes 48/, 'before the migration the new model cannot run');
    await assert.rejects(t.migrate({ encoder: b, fault: (p) => { if (p === 'after-columns') throw new Crash(p); } }), Crash);

    assert.deepEqual([await can('embedding_next'), await can('model_checksum_next'), await can('embedding_text_hash_next')],
      [true, true, true]);
    const d = await t.startDaemon(b);
    await t.pool.query(`UPDATE leads SET title = 'Новый заголовок' WHERE id = 9`);
    const next = await waitForRow(t,
      'SELECT embedding_next::text AS e, model_checksum_next AS c, embedding::text AS old, model_checksum AS oc ' +
      'FROM leads WHERE id = 9 AND model_checksum_next IS NOT NULL');
    const want = (await b.encode(
      ['Новый заголовок. ' + (await t.pool.query<{ d: string }>('SELECT description AS d FROM leads WHERE id = 9')).rows[0]!.d],
      'document')).vectors[0]!;
    assert.equal(next.c, b.info.checksum);
    assert.ok(cosine(parseVector(next.e), want) > 0.9999);
    assert.equal(next.oc, a.info.checksum, 'the old column keeps the old model\'s (now stale) vector');
    assert.equal(parseVector(next.old).length, 64);
    await d.stop();

    b.counts.clear();
    const r = await t.migrate({ encoder: b });
    assert.equal(r.shadow!.encoded, rows - 1, 'the row the daemon did is not encoded again');
    await expectMigratedTo(t, b, rows);
    assert.deepEqual([await can('embedding'), await can('model_checksum'), await can('embedding_text_hash')], [true, true, true]);
  } finally {
    await t.close();
    const admin = new pg.Client({ connectionString: adminUrl() });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS daemon_${t.db.name}`).finally(() => admin.end());
  }
});

async function waitForRow(t: MigrateTestDb, sql: string): Promise<{ e: string; c: string; old: string; oc: string }> {
  for (let i = 0; i < 250; i++) {
    const { rows } = await t.pool.query(sql);
    if (rows[0]) return rows[0] as { e: string; c: string; old: string; oc: string };
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${sql}`);
}
