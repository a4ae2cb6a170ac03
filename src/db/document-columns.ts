// Which columns of the source table EMBEDSYNC_DOCUMENT_SQL reads: the catalog's own answer (the dependencies of
// a view of the expression), so the UPDATE trigger can be restricted to them like it is to EMBEDSYNC_TEXT_COLUMNS.
import type { Queryable } from './pool.ts';
import type { SourceSql } from './source-sql.ts';
import { renderSql } from './sql-template.ts';

/**
 * Column names (unquoted) the document is made of, without the columns embedsync writes itself (`managed`): a
 * document over the whole row would otherwise change with every vector written and enqueue its row again.
 */
export async function documentColumns(db: Queryable, s: SourceSql, documentSql: string, managed: readonly string[]): Promise<string[]> {
  const results = await db.query<{ attname: string }>(renderSql('document-columns', s, { documentSql }));
  // Three statements in one round trip: the middle one is the answer.
  const rows = (Array.isArray(results) ? (results as { rows: { attname: string }[] }[])[1]!.rows : results.rows);
  const skip = new Set(managed);
  return rows.map((r) => r.attname).filter((c) => !skip.has(c));
}
