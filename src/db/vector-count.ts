// How many rows have a vector in a column, for the index policy, without counting the table each time.
//
// Two bounds, from what the database keeps anyway:
// - the last exact count (embedsync.vector_count) widened by the writes since (pg_stat_get_tuples_*: every
//   insert, update and delete the write path made): the rows with vectors cannot have moved by more;
// - the planner's statistics: reltuples x (1 - null_frac) of the column as of the last ANALYZE, widened by
//   the rows modified since it and a margin for ANALYZE's sampling.
// The narrower valid one is the range. The policy counts exactly (one scan of the table) only when a
// threshold of its decision falls inside the range, or when a build is due (the build reads the table
// anyway); the count is stored, so an idle table is counted at most once per decision, never on a schedule.
// Write counters reach the statistics when a writing session flushes them (within seconds): a decision can
// lag the writes by that long, it cannot be taken on a count the writes have left behind.
import type { Queryable } from './pool.ts';
import type { SourceSql } from './source-sql.ts';
import { hasSchemaTable } from './state-repository.ts';
import { loadSql, renderSql } from './sql-template.ts';

/** ANALYZE samples the table: its null fraction and row estimate are taken as good to this share. */
const STATISTICS_MARGIN = 0.05;

export interface VectorRange {
  /** The rows with vectors lie in [lo, hi]; lo === hi for an exact count. */
  readonly lo: number;
  readonly hi: number;
  /** The figure to show: the count, or the middle of the range. */
  readonly rows: number;
  readonly basis: 'count' | 'stored count' | 'statistics' | 'unknown';
}

interface EstimateRow {
  analyzed_vectors: number | null; analyzed_rows: number; mods: number; writes: number; track_counts: boolean; relations: string;
}

export const UNKNOWN_RANGE: VectorRange = { lo: 0, hi: Number.POSITIVE_INFINITY, rows: 0, basis: 'unknown' };

async function readEstimate(db: Queryable, s: SourceSql, column: string): Promise<EstimateRow> {
  return (await db.query<EstimateRow>(loadSql('vector-count-estimate'), [s.table, column])).rows[0]!;
}

/** The range of rows with a vector in `column`, from the catalog, the statistics and the stored count: no scan. */
export async function estimateVectors(db: Queryable, s: SourceSql, column: string): Promise<VectorRange> {
  const e = await readEstimate(db, s, column);
  // Without write counters nothing bounds the drift since a count or an ANALYZE.
  if (!e.track_counts) return UNKNOWN_RANGE;
  const ranges: VectorRange[] = [];
  if (e.analyzed_vectors !== null) {
    const band = e.mods + STATISTICS_MARGIN * e.analyzed_rows;
    ranges.push(range(e.analyzed_vectors - band, e.analyzed_vectors + band, 'statistics'));
  }
  const stored = await readStoredCount(db, s, column);
  if (stored && stored.relations === e.relations && e.writes >= stored.writes) {
    const band = e.writes - stored.writes;
    ranges.push(range(stored.rows - band, stored.rows + band, 'stored count'));
  }
  if (ranges.length === 0) return UNKNOWN_RANGE;
  return ranges.reduce((a, b) => (b.hi - b.lo < a.hi - a.lo ? b : a));
}

function range(lo: number, hi: number, basis: VectorRange['basis']): VectorRange {
  const l = Math.max(0, Math.floor(lo));
  const h = Math.max(l, Math.ceil(hi));
  return { lo: l, hi: h, rows: Math.round((l + h) / 2), basis };
}

/** Counts exactly (a scan of the table) and stores the count with the write counters read just before. */
export async function countVectorsStored(db: Queryable, s: SourceSql, column: string): Promise<VectorRange> {
  const e = await readEstimate(db, s, column);
  const n = await countVectors(db, s, column);
  if (e.track_counts && await hasSchemaTable(db, 'vector_count')) {
    await db.query(loadSql('vector-count-write'), [s.sourceKey, column, n, e.writes, e.relations]);
  }
  return { lo: n, hi: n, rows: n, basis: 'count' };
}

/** Rows that have a vector in `column` (what the index is trained on and holds): a scan of the table. */
export async function countVectors(db: Queryable, s: SourceSql, column: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(renderSql('index-count-vectors', s, { column }));
  return Number(rows[0]!.n);
}

async function readStoredCount(db: Queryable, s: SourceSql,
  column: string): Promise<{ rows: number; writes: number; relations: string } | undefined> {
  if (!await hasSchemaTable(db, 'vector_count')) return undefined;
  const r = (await db.query<{ rows: string; writes: string; relations: string }>(
    loadSql('vector-count-read'), [s.sourceKey, column])).rows[0];
  return r && { rows: Number(r.rows), writes: Number(r.writes), relations: r.relations };
}
