// What `embedsync migrate` has to do for the configured model, judged from the state table and the
// catalog: nothing, a first setup, a new model of the same dimension, or a dimension change. Both changes
// run the shadow migration (or, with --in-place, re-embed over the current column); a migration already
// under way to this model is resumed. rowsToEmbed sizes the work for --dry-run.
import type { SourceConfig, VectorType } from '../config/index.ts';
import { mainColumns, nextColumns, withColumns, type ModelState } from '../db/model-state.ts';
import type { Queryable } from '../db/pool.ts';
import { inspectSource, type SourceInfo } from '../db/source-info.ts';
import { loadSql, renderSql } from '../db/sql-template.ts';
import { hasSchemaTable, readModelState } from '../db/state-repository.ts';
import type { ModelInfo } from '../encoder/types.ts';

export type ModelChange =
  | { readonly kind: 'setup' }
  | { readonly kind: 'none' }
  | { readonly kind: 'reembed'; readonly fromChecksum: string; readonly resumeAfter: string | undefined }
  | { readonly kind: 'dimension'; readonly fromDimensions: number; readonly resumeAfter: string | undefined }
  // Same model, another EMBEDSYNC_VECTOR_TYPE (vector <-> halfvec): a shadow migration that copies the vectors.
  | { readonly kind: 'retype'; readonly from: VectorType; readonly to: VectorType; readonly resumeAfter: string | undefined };

export interface Detected {
  readonly change: ModelChange;
  readonly info: SourceInfo;
  readonly state: ModelState | undefined;
}

type Model = Pick<ModelInfo, 'name' | 'checksum' | 'dimensions'>;

export async function detectModelChange(db: Queryable, source: SourceConfig, model: Model): Promise<Detected> {
  const info = await inspectSource(db, source);
  const state = await hasSchemaTable(db, 'state') ? await readModelState(db, info.sql.sourceKey) : undefined;
  const m = state?.migration;
  let change: ModelChange;
  if (m && m.checksum === model.checksum && m.checksum === state.checksum) {
    change = { kind: 'retype', from: info.embeddingType ?? 'vector', to: source.vectorType, resumeAfter: m.step };
  } else if (m && m.checksum === model.checksum) {
    change = m.dimensions === state.dimensions && m.step !== 'swapped'
      ? { kind: 'reembed', fromChecksum: state.checksum, resumeAfter: m.step }
      : { kind: 'dimension', fromDimensions: state.dimensions, resumeAfter: m.step };
  } else if (info.embeddingDimensions !== undefined && info.embeddingDimensions !== model.dimensions) {
    change = { kind: 'dimension', fromDimensions: info.embeddingDimensions, resumeAfter: undefined };
  } else if (!state) change = { kind: 'setup' };
  else if (state.checksum === model.checksum && info.embeddingType !== undefined && info.embeddingType !== source.vectorType) {
    change = { kind: 'retype', from: info.embeddingType, to: source.vectorType, resumeAfter: undefined };
  }
  else if (state.checksum !== model.checksum) change = { kind: 'reembed', fromChecksum: state.checksum, resumeAfter: undefined };
  else change = { kind: 'none' };
  return { change, info, state };
}

/** Rows the new model must encode: rows with a document that are stale in the columns it fills (the shadow ones when `shadow`). */
export async function rowsToEmbed(db: Queryable, source: SourceConfig, info: SourceInfo, model: Model,
  shadow: boolean): Promise<{ rows: number; total: number }> {
  const cols = shadow ? nextColumns(source) : mainColumns(source);
  const present = (await db.query<{ n: number }>(loadSql('column-present'), [info.sql.table, cols.checksum])).rows[0]!.n > 0;
  const text = renderSql('rows-to-embed', withColumns(info.sql, cols), { noVectorColumns: !present });
  const { rows } = await db.query<{ n: string; total: string }>(text, [model.checksum]);
  return { rows: Number(rows[0]!.n), total: Number(rows[0]!.total) };
}
