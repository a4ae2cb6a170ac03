// Everything SQL needs to know about the configured source table, as validated, quoted fragments.
// Identifiers come from config (validated by the config loader, quoted here again); values are always
// parameters. The id type comes from the catalog, so queue ids (text) can be cast back and the source's
// primary-key index is used.
import type { SourceConfig, VectorType } from '../config/index.ts';
import { quoteIdent, quoteQualified } from './quote.ts';

export interface SourceSql {
  /** `"schema"."table"`, also the source key in embedsync.state. */
  readonly table: string;
  readonly sourceKey: string;
  readonly id: string;
  /** Catalog spelling of the id column's type (format_type), e.g. bigint or uuid. */
  readonly idType: string;
  readonly embedding: string;
  readonly checksum: string;
  readonly embeddedAt: string;
  readonly textHash: string;
  /** The type of the vectors these fragments name (the column's, from the catalog, once it exists). */
  readonly vectorType: VectorType;
  /** The tsvector column of the document (hybrid search's full-text side). */
  readonly fulltext: string;
  /** The text search configuration as an SQL literal, e.g. `'simple'::regconfig`. */
  readonly textSearchConfig: string;
  /** true when embedding/checksum/textHash name a model migration's shadow columns (model-state.ts withColumns). */
  readonly shadow: boolean;
  /** Name stem (unquoted) for generated trigger functions and triggers. */
  readonly stem: string;
  /** The document of row `alias`: never NULL, '' when every text column is NULL or blank. */
  document(alias: string): string;
  /** `md5(document)::uuid`: what text_hash stores and the write path compares. */
  documentHash(alias: string): string;
  /** A boolean that is true when rows `a` and `b` differ in what the document is made of. */
  documentChanged(a: string, b: string): string;
  /** The quoted columns the document is made of; empty for EMBEDSYNC_DOCUMENT_SQL (the catalog tells: document-columns.ts). */
  readonly documentColumns: readonly string[];
  /** EMBEDSYNC_CHUNKING=tokens: the chunk settings (the chunks live in embedsync.<stem>_chunks); undefined: none. */
  readonly chunking: { readonly tokens: number | undefined; readonly overlap: number } | undefined;
}

const ALIAS = /^[a-z_][a-z0-9_]*$/;

/**
 * What JavaScript's trim() (and \s) call whitespace, as an SQL string: tabs, newlines, no-break and ideographic
 * spaces, BOM... Trimming columns by exactly this set makes a document '' exactly when the daemon and the HTTP
 * API call a text blank; btrim's default (spaces only) let a column of "\t\n" into the document as text.
 */
const WHITESPACE = "E' \\t\\n\\r\\f\\u000b\\u00a0\\u1680\\u2000\\u2001\\u2002\\u2003\\u2004\\u2005\\u2006\\u2007\\u2008\\u2009" +
  "\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff'";

function alias(a: string): string {
  if (!ALIAS.test(a)) throw new Error(`bad SQL alias ${a}`);
  return a;
}

/** The generated function that evaluates EMBEDSYNC_DOCUMENT_SQL over a whole row. */
export function documentFunctionName(stem: string): string {
  return `embedsync.${quoteIdent(`doc_${stem}`)}`;
}

/**
 * Name stem of a source's generated triggers and functions: `table` in public, else `schema_table`. Short,
 * deterministic, within NAMEDATALEN even for 63-byte table names.
 */
export function stemOf(t: { readonly schema: string; readonly name: string }): string {
  return `${t.schema === 'public' ? '' : `${t.schema}_`}${t.name}`.slice(0, 40);
}

/** The key of a source in embedsync.state, queue and deadletter: "schema.table". */
export function sourceKeyOf(source: Pick<SourceConfig, 'table'>): string {
  return `${source.table.schema}.${source.table.name}`;
}

/**
 * `vectorType`: the existing embedding column's type when there is one (the search functions must match the
 * column, whatever the setting says until a migration switches it), else EMBEDSYNC_VECTOR_TYPE.
 */
export function sourceSql(source: SourceConfig, idType: string, vectorType: VectorType = source.vectorType): SourceSql {
  const table = quoteQualified(source.table);
  const sourceKey = sourceKeyOf(source);
  const stem = stemOf(source.table);
  const cols = source.textColumns.map(quoteIdent);
  const document = (a: string): string =>
    source.documentSql !== undefined
      ? `btrim(coalesce(${documentFunctionName(stem)}(${alias(a)}), ''), ${WHITESPACE})`
      // NULL and blank columns are skipped; concat_ws of nothing is ''.
      : `concat_ws('. ', ${cols.map((c) => `nullif(btrim(${alias(a)}.${c}, ${WHITESPACE}), '')`).join(', ')})`;
  return {
    table,
    sourceKey,
    id: quoteIdent(source.idColumn),
    idType,
    embedding: quoteIdent(source.embeddingColumn),
    checksum: quoteIdent(source.checksumColumn),
    embeddedAt: quoteIdent(source.embeddedAtColumn),
    textHash: quoteIdent(source.textHashColumn),
    vectorType,
    fulltext: quoteIdent(source.fulltextColumn),
    // Validated by the config loader as a (schema-qualified) lower-case name: no quote can be in it.
    textSearchConfig: `'${source.textSearchConfig}'::regconfig`,
    shadow: false,
    stem,
    document,
    documentHash: (a) => `md5(${document(a)})::uuid`,
    documentColumns: source.documentSql !== undefined ? [] : cols,
    chunking: source.chunking === 'tokens' ? { tokens: source.chunkTokens, overlap: source.chunkOverlap } : undefined,
    documentChanged: (a, b) =>
      source.documentSql !== undefined
        ? `${document(a)} IS DISTINCT FROM ${document(b)}`
        // Comparing the raw columns is cheaper than building both documents.
        : `(${cols.map((c) => `${alias(a)}.${c}`).join(', ')}) IS DISTINCT FROM (${cols.map((c) => `${alias(b)}.${c}`).join(', ')})`,
  };
}
