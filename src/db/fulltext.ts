// Hybrid search's full-text side on the source table: the tsvector column of the document (added with the
// other managed columns, sql/source-columns.sql) filled for rows written before it existed, rebuilt for every
// row when EMBEDSYNC_TEXT_SEARCH_CONFIG changes, and its GIN index. migrate runs it outside any transaction:
// the fill goes in short keyset chunks and the index is built CONCURRENTLY on a plain table. From then on the
// daemon's write keeps each row's tsvector with its vector (sql/write-embeddings.sql).
import type pg from 'pg';
import type { SourceConfig } from '../config/index.ts';
import type { Queryable } from './pool.ts';
import { quoteIdent } from './quote.ts';
import { SourceError } from './source-info.ts';
import type { SourceSql } from './source-sql.ts';
import { loadSql, renderCatalogSql, renderSql } from './sql-template.ts';

export interface FullTextResult {
  /** Rows whose tsvector was written now. */
  readonly filled: number;
  /** Why every row was rebuilt (a new configuration or column), if it was. */
  readonly rebuilt: string | undefined;
  readonly indexBuilt: boolean;
}

export function fullTextIndexName(s: SourceSql): string {
  return `${s.stem}_embedsync_fulltext`;
}

const FILL_CHUNK_ROWS = 5000;

/** Refuses a text search configuration the database does not have (before migrate changes anything). */
export async function checkTextSearchConfig(db: Queryable, source: SourceConfig): Promise<void> {
  const [schema, name] = source.textSearchConfig.includes('.') ? source.textSearchConfig.split('.') : [null, source.textSearchConfig];
  const { rows } = await db.query<{ ok: boolean }>(loadSql('fulltext-config-exists'), [schema, name]);
  if (!rows[0]!.ok) {
    throw new SourceError(`EMBEDSYNC_TEXT_SEARCH_CONFIG=${source.textSearchConfig} is not a text search configuration in this database ` +
      '(\\dF in psql lists them; simple, english and russian are built in)');
  }
}

export async function ensureFullText(client: pg.Client | pg.PoolClient, s: SourceSql, source: SourceConfig,
  o: { signal?: AbortSignal } = {}): Promise<FullTextResult> {
  const recorded = (await client.query<{ column_name: string; config: string }>(loadSql('fulltext-read'), [s.sourceKey])).rows[0];
  const rebuilt = recorded && (recorded.config !== source.textSearchConfig || recorded.column_name !== source.fulltextColumn)
    ? `text search configuration ${recorded.config} -> ${source.textSearchConfig}` : undefined;
  let filled = 0;
  let after: string | null = null;
  const fill = renderSql('fulltext-fill', s);
  do {
    o.signal?.throwIfAborted();
    const r: { last: string | null; filled: number } = (await client.query<{ last: string | null; filled: number }>(fill,
      [after, FILL_CHUNK_ROWS, rebuilt !== undefined])).rows[0]!;
    filled += r.filled;
    after = r.last;
  } while (after !== null);
  await client.query(loadSql('fulltext-record'), [s.sourceKey, source.fulltextColumn, source.textSearchConfig]);

  const name = fullTextIndexName(s);
  const st = (await client.query<{ partitioned: boolean; schema: string; valid: boolean | null }>(
    loadSql('fulltext-index-state'), [s.table, name])).rows[0]!;
  if (st.valid === true) return { filled, rebuilt, indexBuilt: false };
  if (st.valid === false) {
    await client.query(renderCatalogSql('index-drop',
      { concurrently: !st.partitioned, relation: `${quoteIdent(st.schema)}.${quoteIdent(name)}` }));
  }
  await client.query(renderSql('fulltext-index', s, { concurrently: !st.partitioned }));
  return { filled, rebuilt, indexBuilt: true };
}
