// `embedsync migrate --in-place` for a dimension change: no shadow columns, the vector columns go and come
// back at the new dimension. Cheaper in disk and time than the shadow migration, but search answers nothing
// until the daemon has re-embedded the rows.
import type pg from 'pg';
import type { SourceConfig } from '../config/index.ts';
import { mainColumns, nextColumns } from '../db/model-state.ts';
import { withShortLocks } from '../db/short-lock.ts';
import type { SourceInfo } from '../db/source-info.ts';
import { loadSql } from '../db/sql-template.ts';
import { clearMigration, hasSchemaTable } from '../db/state-repository.ts';
import { dropColumnSet, dropVectorIndexes } from './column-sets.ts';

/**
 * Drops the managed vector columns (and their index, and any unfinished shadow migration) in one
 * transaction, so the plain migrate after it adds them back at the new dimension and the enqueue pass enqueues
 * every row.
 */
export async function dropVectorColumns(client: pg.Client, source: SourceConfig, info: SourceInfo, lockTimeoutMs = 5000): Promise<void> {
  const s = info.sql;
  const sets = [mainColumns(source), nextColumns(source)];
  await withShortLocks(client, async () => {
    for (const c of sets) await dropVectorIndexes(client, s, c.embedding);
    for (const c of sets) await dropColumnSet(client, s, c);
    // A schema from before model migrations has no index record nor migration to forget.
    if (await hasSchemaTable(client, 'vector_index')) {
      await client.query(loadSql('index-record-delete'), [s.sourceKey]);
      await clearMigration(client, s.sourceKey);
    }
  }, { lockTimeoutMs });
}
