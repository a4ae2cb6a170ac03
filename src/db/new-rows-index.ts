// The new-rows index (sql/source-new-rows-index.sql): the ids of rows no model has embedded yet. With ids from a
// sequence it replaces the INSERT trigger: an INSERT pays one small index entry instead of a trigger call and a
// queue upsert, and the daemons' watch reads its newest entries (src/sync/row-watch.ts). Built by migrate outside
// any transaction, CONCURRENTLY on a plain table; an interrupted concurrent build leaves an invalid index, which is
// dropped and built again.
import type pg from 'pg';
import type { Queryable } from './pool.ts';
import type { SourceSql } from './source-sql.ts';
import { quoteIdent } from './quote.ts';
import { schemaOf } from './vector-index.ts';
import { loadSql, renderCatalogSql, renderSql } from './sql-template.ts';
import { inTransaction } from './transaction.ts';

export function newRowsIndexName(s: Pick<SourceSql, 'stem'>): string {
  return `${s.stem}_embedsync_new`;
}

/** The index's schema-qualified, quoted name (what to_regclass takes). */
export function newRowsIndexQualified(s: SourceSql): string {
  return `${schemaOf(s)}.${quoteIdent(newRowsIndexName(s))}`;
}

async function indexState(db: Queryable, s: SourceSql): Promise<{ partitioned: boolean; valid: boolean | null }> {
  return (await db.query<{ partitioned: boolean; valid: boolean | null }>(
    loadSql('new-rows-index-state'), [s.table, newRowsIndexQualified(s)])).rows[0]!;
}

/** Whether the index is there and usable: the watch reads the table for new rows only then (never a scan of it). */
export async function newRowsIndexReady(db: Queryable, s: SourceSql): Promise<boolean> {
  return (await indexState(db, s)).valid === true;
}

export async function ensureNewRowsIndex(client: pg.Client | pg.PoolClient, s: SourceSql): Promise<void> {
  const t = await indexState(client, s);
  if (t.valid === true) return;
  if (t.valid === false) {
    await client.query(renderCatalogSql('index-drop', { concurrently: !t.partitioned, relation: newRowsIndexQualified(s) }));
  }
  await client.query(renderSql('source-new-rows-index', s, { concurrently: !t.partitioned }));
}

/** Whether the table's ids come from a sequence, so that new rows are the new-rows index's newest entries. */
export async function idsFromSequence(db: Queryable, s: SourceSql, idColumn: string): Promise<boolean> {
  return (await db.query<{ sequence: boolean }>(loadSql('id-sequence'), [s.table, idColumn])).rows[0]!.sequence;
}

export type InsertCapture = 'watch' | 'trigger';

/**
 * Who takes the table's inserts: the watch where ids come from a sequence and the new-rows index is ready (the
 * INSERT trigger goes), the INSERT trigger otherwise. Called by migrate after the index step, in a short
 * transaction of its own (a trigger's DDL locks the table: a busy table fails fast and migrate can be rerun).
 */
export async function installInsertCapture(client: pg.Client, s: SourceSql, idColumn: string, indexReady: boolean): Promise<InsertCapture> {
  const capture: InsertCapture = indexReady && await idsFromSequence(client, s, idColumn) ? 'watch' : 'trigger';
  const drop = capture === 'watch';
  await inTransaction(client, async () => {
    await client.query(loadSql('lock-timeout-local'), ['5s']);
    await client.query(renderSql(drop ? 'source-insert-trigger-drop' : 'source-insert-trigger', s));
  });
  return capture;
}
