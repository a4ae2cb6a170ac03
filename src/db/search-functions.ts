// Installs the search functions (sql/similar-to.sql, sql/search.sql, sql/hybrid-search.sql) for a table: always
// its own embedsync.<stem>_similar_to / <stem>_search / <stem>_hybrid_search, and the unqualified
// embedsync.similar_to / search / hybrid_search only for
// the table they were first installed for (embedsync.search_default), so a second table's migrate never
// re-points them under the first table's readers. migrate runs it every time: CREATE OR REPLACE is cheap
// and keeps the functions in step with the table's id type and column names.
import type { Queryable } from './pool.ts';
import type { SourceSql } from './source-sql.ts';
import { installChunkSearch } from './chunk-table.ts';
import { loadSql, renderSql } from './sql-template.ts';

export interface InstalledSearch {
  /** Qualified names of the functions installed, per-table first. */
  readonly functions: readonly string[];
  /** The source the unqualified functions serve. */
  readonly defaultSource: string;
}

export async function installSearchFunctions(db: Queryable, s: SourceSql): Promise<InstalledSearch> {
  await db.query(renderSql('similar-to', s, { perTable: true }));
  await db.query(renderSql('search', s, { perTable: true }));
  await db.query(renderSql('hybrid-search', s, { perTable: true }));
  const functions = [`embedsync.${s.stem}_similar_to`, `embedsync.${s.stem}_search`, `embedsync.${s.stem}_hybrid_search`];
  if (s.chunking) functions.push(...await installChunkSearch(db, s, true));
  await db.query(loadSql('search-default-claim'), [s.sourceKey]);
  const defaultSource = (await db.query<{ source: string }>(loadSql('search-default-read'))).rows[0]!.source;
  if (defaultSource === s.sourceKey) {
    await db.query(renderSql('similar-to', s, { perTable: false }));
    await db.query(renderSql('search', s, { perTable: false }));
    await db.query(renderSql('hybrid-search', s, { perTable: false }));
    if (s.chunking) await installChunkSearch(db, s, false);
    functions.push('embedsync.similar_to', 'embedsync.search', 'embedsync.hybrid_search');
  }
  return { functions, defaultSource };
}
