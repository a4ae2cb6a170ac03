// Installs embedsync.similar_to and embedsync.search (sql/similar-to.sql, sql/search.sql) for the
// configured table. migrate runs it every time: CREATE OR REPLACE is cheap and keeps the functions in step
// with the table's id type and column names.
import type { Queryable } from './pool.ts';
import type { SourceSql } from './source-sql.ts';
import { renderSql } from './sql-template.ts';

export async function installSearchFunctions(db: Queryable, s: SourceSql): Promise<void> {
  await db.query(renderSql('similar-to', s));
  await db.query(renderSql('search', s));
}
