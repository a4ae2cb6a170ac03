// What `embedsync migrate` has to do for the configured model, judged from the state table and the
// catalog: nothing, a first setup, a new model of the same dimension, or a dimension change. Both changes
// run the shadow migration (or, with --in-place, re-embed over the current column); a migration already
// under way to this model is resumed.
import type pg from 'pg';
import type { SourceConfig } from '../config/index.ts';
import { quoteIdent } from './quote.ts';
import type { Encoder, ModelInfo } from '../encoder/types.ts';
import { mainColumns, nextColumns, readModelState, type ModelState } from './model-state.ts';
import type { Queryable } from './pool.ts';
import { inspectSource, type SourceInfo } from './source-info.ts';
import { withShortLocks } from './short-lock.ts';
import { findVectorIndexes, schemaOf } from './vector-index.ts';

export type ModelChange =
  | { readonly kind: 'setup' }
  | { readonly kind: 'none' }
  | { readonly kind: 'reembed'; readonly fromChecksum: string; readonly resumeAfter: string | undefined }
  | { readonly kind: 'dimension'; readonly fromDimensions: number; readonly resumeAfter: string | undefined };

export interface Detected {
  readonly change: ModelChange;
  readonly info: SourceInfo;
  readonly state: ModelState | undefined;
}

type Model = Pick<ModelInfo, 'name' | 'checksum' | 'dimensions'>;

export async function detectModelChange(db: Queryable, source: SourceConfig, model: Model): Promise<Detected> {
  const info = await inspectSource(db, source);
  const hasState = (await db.query<{ t: string | null }>("SELECT to_regclass('embedsync.state')::text AS t")).rows[0]!.t !== null;
  const state = hasState ? await readModelState(db, info.sql.sourceKey) : undefined;
  const m = state?.migration;
  let change: ModelChange;
  if (m && m.checksum === model.checksum) {
    change = m.dimensions === state!.dimensions && m.step !== 'swapped'
      ? { kind: 'reembed', fromChecksum: state!.checksum, resumeAfter: m.step }
      : { kind: 'dimension', fromDimensions: state!.dimensions, resumeAfter: m.step };
  } else if (info.embeddingDimensions !== undefined && info.embeddingDimensions !== model.dimensions) {
    change = { kind: 'dimension', fromDimensions: info.embeddingDimensions, resumeAfter: undefined };
  } else if (!state) change = { kind: 'setup' };
  else if (state.checksum !== model.checksum) change = { kind: 'reembed', fromChecksum: state.checksum, resumeAfter: undefined };
  else change = { kind: 'none' };
  return { change, info, state };
}

/** Rows the new model must encode: rows with a document whose vector (in the shadow columns when `shadow`) is not by this model of this text. */
export async function rowsToEmbed(db: Queryable, source: SourceConfig, info: SourceInfo, model: Model, shadow: boolean): Promise<{ rows: number; total: number }> {
  const s = info.sql;
  const cols = shadow ? nextColumns(source) : mainColumns(source);
  const present = (await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped', [s.table, cols.checksum])).rows[0]!.n > 0;
  const stale = present
    ? `t.${quoteIdent(cols.checksum)} IS DISTINCT FROM $1 OR t.${quoteIdent(cols.textHash)} IS DISTINCT FROM md5(${s.document('t')})::uuid`
    : 'true';
  const { rows } = await db.query<{ n: string; total: string }>(
    `SELECT count(*) FILTER (WHERE ${s.document('t')} <> '' AND (${stale})) AS n, count(*) AS total FROM ${s.table} t WHERE $1::text IS NOT NULL`,
    [model.checksum]);
  return { rows: Number(rows[0]!.n), total: Number(rows[0]!.total) };
}

/** Documents per second of `encoder` on a sample of the table's own documents (what the backfill will see). */
export async function measureEncodeRate(db: Queryable, info: SourceInfo, encoder: Encoder, sample = 64): Promise<number> {
  const s = info.sql;
  const { rows } = await db.query<{ d: string }>(
    `SELECT d FROM (SELECT ${s.document('t')} AS d FROM ${s.table} t ORDER BY t.${s.id} LIMIT $1) x WHERE d <> ''`, [sample]);
  const docs = rows.length ? rows.map((r) => r.d) : Array.from({ length: sample }, (_, i) => `sample document ${i} about a flat in the city centre`);
  await encoder.encode(docs.slice(0, 4), 'document'); // warm-up: first runs allocate
  const t0 = performance.now();
  await encoder.encode(docs, 'document');
  return docs.length / Math.max(1e-6, (performance.now() - t0) / 1000);
}

/**
 * --in-place: drops the managed vector columns (and their index, and any unfinished shadow migration) in one
 * transaction, so the plain migrate after it adds them back at the new dimension and the backfill enqueues
 * every row. Search returns nothing until the daemon has re-embedded the rows.
 */
export async function dropVectorColumns(client: pg.Client, source: SourceConfig, info: SourceInfo, lockTimeoutMs = 5000): Promise<void> {
  const s = info.sql;
  const main = mainColumns(source);
  const next = nextColumns(source);
  const cols = [main.embedding, main.checksum, main.textHash, next.embedding, next.checksum, next.textHash];
  await withShortLocks(client, async () => {
    for (const c of [main.embedding, next.embedding]) {
      for (const i of await findVectorIndexes(client, s, c)) await client.query(`DROP INDEX ${schemaOf(s)}.${quoteIdent(i.name)}`);
    }
    await client.query(`ALTER TABLE ${s.table} ${cols.map((c) => `DROP COLUMN IF EXISTS ${quoteIdent(c)}`).join(', ')}`);
    const hasState = (await client.query<{ t: string | null }>("SELECT to_regclass('embedsync.vector_index')::text AS t")).rows[0]!.t !== null;
    if (hasState) {
      await client.query('DELETE FROM embedsync.vector_index WHERE source = $1', [s.sourceKey]);
      await client.query(
        `UPDATE embedsync.state SET target_model = NULL, target_checksum = NULL, target_dimensions = NULL, migration_step = NULL,
           migration_started = NULL WHERE source = $1`, [s.sourceKey]);
    }
  }, { lockTimeoutMs });
}
