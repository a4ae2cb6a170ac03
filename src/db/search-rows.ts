// The one path from a query to rows that POST /search and `embedsync search` share: the table is looked up in
// embedsync.state (it must hold vectors of the model that embedded the query), then its own SQL function runs
// (<stem>_search or <stem>_hybrid_search), so both answer exactly what the function answers in SQL.
import type { QualifiedName } from '../config/index.ts';
import { sqlState } from './pg-errors.ts';
import type { Queryable } from './pool.ts';
import { sourceKeyOf, stemOf } from './source-sql.ts';
import { renderCatalogSql } from './sql-template.ts';
import { readModelState } from './state-repository.ts';
import { encodeVector } from './vector-binary.ts';

export interface SearchQuery {
  readonly table: QualifiedName;
  /** The query's text (hybrid: its full-text side) and its query-role vector. */
  readonly text: string;
  readonly vector: Float32Array;
  /** Checksum of the model that made `vector`: the table must hold that model's vectors. */
  readonly checksum: string;
  readonly k: number;
  readonly hybrid: boolean;
  /** Vector search: rows below this score are left out. */
  readonly minScore?: number;
  readonly textWeight?: number;
  readonly vectorWeight?: number;
}

export interface SearchRow {
  readonly id: string;
  readonly score: number;
  /** Hybrid only: the row's rank on each side (null: not among that side's candidates). */
  readonly text_rank?: number | null;
  readonly vector_rank?: number | null;
}

/** Why a search cannot run as asked: `request` is the caller's to fix, `setup` the operator's (run migrate). */
export class SearchError extends Error {
  override name = 'SearchError';
  constructor(readonly kind: 'request' | 'setup', message: string) {
    super(message);
  }
}

export async function searchRows(db: Queryable, q: SearchQuery): Promise<SearchRow[]> {
  const key = sourceKeyOf({ table: q.table });
  const state = await readModelState(db, key).catch((err: unknown) => {
    if (sqlState(err) === '42P01') throw new SearchError('setup', 'embedsync is not installed in this database: run embedsync migrate');
    throw err;
  });
  if (!state) {
    throw new SearchError('request', `table ${key} is not synced by embedsync (no model recorded for it); ` +
      `run embedsync migrate with EMBEDSYNC_TABLE=${key}`);
  }
  if (state.checksum !== q.checksum) {
    throw new SearchError('request', `table ${key} holds vectors of model ${state.model} (${state.checksum}), ` +
      `but this query was embedded by ${q.checksum}: search it where that model runs`);
  }
  const stem = stemOf(q.table);
  const vector = encodeVector(q.vector);
  try {
    const { rows } = q.hybrid
      ? await db.query<SearchRow>(renderCatalogSql('hybrid-search-rows', { stem }),
        [q.text, vector, q.k, q.textWeight ?? null, q.vectorWeight ?? null])
      : await db.query<SearchRow>(renderCatalogSql('search-rows', { stem }), [vector, q.k, q.minScore ?? 0]);
    return rows;
  } catch (err) {
    // A table migrated by a version without hybrid search (or whose functions were dropped).
    if (sqlState(err) === '42883') {
      throw new SearchError('setup', `the search functions of ${key} are missing or outdated: run embedsync migrate`);
    }
    throw err;
  }
}
