// A model migration under way, as `embedsync status` and GET /status show it: its step and how far the
// backfill has got.
import type { SourceConfig } from '../config/index.ts';
import { nextColumns, withColumns, type MigrationStep } from '../db/model-state.ts';
import type { Queryable } from '../db/pool.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { renderSql } from '../db/sql-template.ts';
import { readModelState } from '../db/state-repository.ts';

export interface MigrationProgress {
  readonly model: string;
  readonly checksum: string;
  readonly dimensions: number;
  readonly step: MigrationStep;
  /** Rows holding the new model's vector in the shadow column, of all rows (before the swap). */
  readonly done: number | null;
  readonly total: number | null;
}

export async function migrationProgress(db: Queryable, source: SourceConfig, s: SourceSql): Promise<MigrationProgress | undefined> {
  const state = await readModelState(db, s.sourceKey);
  const m = state?.migration;
  if (!m) return undefined;
  let done: number | null = null;
  let total: number | null = null;
  // The shadow columns exist from `columns` until the swap renames them.
  if (m.step !== 'started' && m.step !== 'swapped') {
    const { rows } = await db.query<{ done: string; total: string }>(renderSql('migration-progress', withColumns(s, nextColumns(source))), [m.checksum]);
    done = Number(rows[0]!.done);
    total = Number(rows[0]!.total);
  }
  return { model: m.model, checksum: m.checksum, dimensions: m.dimensions, step: m.step, done, total };
}
