// `embedsync migrate --abort`: an unfinished model migration (before its swap) is undone — shadow index and
// columns dropped, the migration forgotten — and search goes on from the main columns as if it never started.
import type pg from 'pg';
import type { SourceConfig } from '../config/index.ts';
import { nextColumns, type ModelState } from '../db/model-state.ts';
import { withShortLocks } from '../db/short-lock.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { clearMigration } from '../db/state-repository.ts';
import { dropColumnSet, dropVectorIndexes } from './column-sets.ts';
import { MigrationConflictError } from './conflict.ts';

/** Drops the shadow columns and index of an unfinished migration (before its swap) and forgets it. */
export async function abortShadowMigration(client: pg.Client, source: SourceConfig, s: SourceSql, state: ModelState,
  lockTimeoutMs = 100): Promise<boolean> {
  if (!state.migration) return false;
  if (state.migration.step === 'swapped') {
    throw new MigrationConflictError('the migration has already swapped columns; run `embedsync migrate` to finish it');
  }
  const next = nextColumns(source);
  // Concurrently, outside the short-lock transaction: the shadow index may be large, and readers never use it.
  await dropVectorIndexes(client, s, next.embedding, { concurrently: true });
  await withShortLocks(client, async () => {
    await dropColumnSet(client, s, next);
    await clearMigration(client, s.sourceKey);
  }, { lockTimeoutMs });
  return true;
}
