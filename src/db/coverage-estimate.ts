// A table's embedding coverage from its statistics (sql/row-coverage-estimate.sql): what status shows for a
// table too large to count in milliseconds. Below SMALL_TABLE_PAGES counting is as quick, so callers count.
import type { Queryable } from './pool.ts';
import { loadSql } from './sql-template.ts';

/** Below this many pages (8 MB) an exact count is as quick as the estimate. */
export const SMALL_TABLE_PAGES = 1024;

export interface CoverageEstimate {
  /** Live rows (the statistics' running count, else the planner's estimate). */
  readonly total: number;
  /** False when some leaf has no statistics for the columns yet: the shares below are then NULL. */
  readonly analyzed: boolean;
  /** Rows whose checksum is the given one, that have no checksum, that have no vector (as of the last ANALYZE). */
  readonly currentChecksum: number | null;
  readonly noChecksum: number | null;
  readonly noVector: number | null;
  readonly pages: number;
  readonly analyzedAt: Date | null;
}

export async function estimateCoverage(db: Queryable, table: string, checksum: string | null, embeddingColumn: string,
  checksumColumn: string): Promise<CoverageEstimate> {
  const e = (await db.query<{
    total: number; analyzed: boolean | null; current_checksum: number | null; no_checksum: number | null; no_vector: number | null;
    pages: number; analyzed_at: Date | null;
  }>(
    loadSql('row-coverage-estimate'), [table, checksum, embeddingColumn, checksumColumn])).rows[0]!;
  return {
    total: e.total, analyzed: e.analyzed === true, currentChecksum: e.current_checksum, noChecksum: e.no_checksum, noVector: e.no_vector,
    pages: e.pages, analyzedAt: e.analyzed_at,
  };
}
