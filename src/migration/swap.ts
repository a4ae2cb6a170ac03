// The last two steps of a model migration. `swapped`: one short transaction drops the old columns and index,
// renames the shadow ones into their place and switches the state to the new model. `done`: rows changed
// during the swap are re-enqueued, the search functions and the sweep's index follow the new columns, and the
// migration is forgotten.
import type pg from 'pg';
import type { VectorType } from '../config/index.ts';
import { INSUFFICIENT_PRIVILEGE, sqlState } from '../db/pg-errors.ts';
import type { VectorColumns } from '../db/model-state.ts';
import { quoteIdent } from '../db/quote.ts';
import { installSearchFunctions } from '../db/search-functions.ts';
import { dropStaleChunkIndexes } from '../db/chunk-index.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { loadSql } from '../db/sql-template.ts';
import { clearMigration, swapToTarget } from '../db/state-repository.ts';
import { ensureNewRowsIndex, installInsertCapture } from '../db/new-rows-index.ts';
import { installCapture } from '../db/logical-capture.ts';
import { ensureSweepIndex } from '../db/sweep-index.ts';
import { recordIndex, renameIndex, schemaOf, vectorIndexName, type EnsureResult, type ExistingIndex } from '../db/vector-index.ts';
import { enqueueUnsynced } from '../queue/sweep.ts';
import { dropColumnSet, dropVectorIndexes } from './column-sets.ts';

export interface SwapSpec {
  readonly s: SourceSql;
  readonly main: VectorColumns;
  readonly next: VectorColumns;
  readonly dimensions: number;
  /** The valid index built on the shadow column, if any, with the build this run did (or rows now, on a resume). */
  readonly built: ExistingIndex | undefined;
  readonly build: EnsureResult | undefined;
  readonly rows: number;
  /** The type of the columns swapped in: the search functions are replaced in the same transaction to match. */
  readonly vectorType: VectorType;
}

/** The swap itself; runs inside the caller's short-lock transaction, `inSwap` last (a test's crash point). */
export async function swapColumns(client: pg.Client, w: SwapSpec, inSwap: () => Promise<void>): Promise<void> {
  const { s, main, next } = w;
  await dropVectorIndexes(client, s, main.embedding);
  await dropColumnSet(client, s, main);
  // One statement per column: ALTER TABLE renames one column at a time.
  for (const k of ['embedding', 'checksum', 'textHash'] as const) {
    await client.query(`ALTER TABLE ${s.table} RENAME COLUMN ${quoteIdent(next[k])} TO ${quoteIdent(main[k])}`);
  }
  const mainIndexName = vectorIndexName(s, main.embedding);
  if (w.built) {
    await client.query(renameIndex(schemaOf(s), vectorIndexName(s, next.embedding), mainIndexName));
    await recordIndex(client, s.sourceKey, {
      name: mainIndexName, kind: w.built.kind, lists: w.built.lists ?? null, dimensions: w.dimensions, rowsAtBuild: w.build?.rows ?? w.rows,
      buildSeconds: w.build?.buildSeconds ?? 0,
    });
  } else {
    await client.query(loadSql('index-record-delete'), [s.sourceKey]);
  }
  await swapToTarget(client, s.sourceKey);
  // The functions' casts follow the column's type: replaced in this transaction, so no search ever runs the
  // old function on the new column (a vector type switch changes the type under the same column name).
  await installSearchFunctions(client, { ...s, vectorType: w.vectorType });
  await inSwap();
}

/** After the swap: returns how many rows changed during it and were queued for the daemon. */
export async function finishMigration(client: pg.Client, s: SourceSql, checksum: string, idColumn: string): Promise<number> {
  // Rows whose text changed between the last catch-up and the swap: the daemon re-embeds them.
  const requeued = (await enqueueUnsynced(client, s, checksum)).enqueued;
  await installSearchFunctions(client, s);
  // The sweep's partial index went with the old checksum column: again, for the new model (idempotent).
  await ensureSweepIndex(client, s, checksum).catch((err: unknown) => {
    if (sqlState(err) !== INSUFFICIENT_PRIVILEGE) throw err;
  });
  // So did the new-rows index: until it is back the daemons' watch finds no inserts (the sweep does), so it is
  // built before the migration is done. Without the right to build it, the INSERT trigger takes inserts.
  const newRows = await ensureNewRowsIndex(client, s).then(() => true, (err: unknown) => {
    if (sqlState(err) !== INSUFFICIENT_PRIVILEGE) throw err;
    return false;
  });
  await installInsertCapture(client, s, idColumn, newRows);
  // A table with logical capture keeps it: the triggers just installed go again.
  await installCapture(client, s, undefined);
  await clearMigration(client, s.sourceKey);
  // A chunked table: the old model's (or old vector type's) chunk index serves nothing now.
  await dropStaleChunkIndexes(client, s, { byName: true, concurrently: true });
  return requeued;
}
