// Dropping one model's set of vector columns and the vector indexes on them: the old set at the swap, the
// shadow set on abort, both for an in-place change. Callers hold the short-lock transaction.
import type pg from 'pg';
import { withColumns, type VectorColumns } from '../db/model-state.ts';
import { quoteIdent } from '../db/quote.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { renderCatalogSql, renderSql } from '../db/sql-template.ts';
import { findVectorIndexes, schemaOf } from '../db/vector-index.ts';

/** Drops every vector index on `column` (one statement per index: names come from the catalog). */
export async function dropVectorIndexes(client: pg.Client, s: SourceSql, column: string,
  o: { concurrently?: boolean } = {}): Promise<void> {
  for (const i of await findVectorIndexes(client, s, column)) {
    await client.query(renderCatalogSql('index-drop',
      { concurrently: o.concurrently === true, relation: `${schemaOf(s)}.${quoteIdent(i.name)}` }));
  }
}

/** Drops the columns of `cols` (those that exist) from the source table. */
export async function dropColumnSet(client: pg.Client, s: SourceSql, cols: VectorColumns): Promise<void> {
  await client.query(renderSql('drop-vector-columns', withColumns(s, cols)));
}
