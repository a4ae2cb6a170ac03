// A model migration under way, as `embedsync status` and GET /status show it: its step and how far the
// backfill has got (on a large table estimated from the statistics, unless status --exact).
import type { SourceConfig } from '../config/index.ts';
import { nextColumns, withColumns, type MigrationStep } from '../db/model-state.ts';
import type { Queryable } from '../db/pool.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { renderSql } from '../db/sql-template.ts';
import { estimateCoverage, SMALL_TABLE_PAGES } from '../db/coverage-estimate.ts';
import { readModelState } from '../db/state-repository.ts';

export interface MigrationProgress {
  readonly model: string;
  readonly checksum: string;
  readonly dimensions: number;
  readonly step: MigrationStep;
  /** Rows holding the new model's vector in the shadow column, of all rows (before the swap). */
  readonly done: number | null;
  readonly total: number | null;
  /** done and total are estimates from the table's statistics (a large table, status without --exact). */
  readonly estimated?: boolean;
}

export async function migrationProgress(db: Queryable, source: SourceConfig, s: SourceSql,
  o: { exact?: boolean } = {}): Promise<MigrationProgress | undefined> {
  const state = await readModelState(db, s.sourceKey);
  const m = state?.migration;
  if (!m) return undefined;
  let done: number | null = null;
  let total: number | null = null;
  // The shadow columns exist from `columns` until the swap renames them.
  if (m.step !== 'started' && m.step !== 'swapped') {
    // A large table: the new checksum's share of the shadow checksum column (unknown until it is analyzed).
    const next = nextColumns(source);
    const e = o.exact ? undefined : await estimateCoverage(db, s.table, m.checksum, next.embedding, next.checksum);
    if (e && e.pages > SMALL_TABLE_PAGES) {
      return {
        model: m.model, checksum: m.checksum, dimensions: m.dimensions, step: m.step,
        done: e.analyzed ? Math.round(e.currentChecksum!) : null, total: Math.round(e.total), estimated: true,
      };
    }
    const { rows } = await db.query<{ done: string; total: string }>(renderSql('migration-progress', withColumns(s, nextColumns(source))),
      [m.checksum]);
    done = Number(rows[0]!.done);
    total = Number(rows[0]!.total);
  }
  return { model: m.model, checksum: m.checksum, dimensions: m.dimensions, step: m.step, done, total };
}
