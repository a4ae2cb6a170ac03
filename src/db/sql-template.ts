// Loads the .sql files of sql/ and fills their {{placeholders}} with quoted identifiers and generated
// expressions: for the configured source (renderSql), or for indexes and partitions found in the catalog
// (renderCatalogSql). Statements without placeholders are plain text (loadSql). Values never pass through
// here: they are bind parameters.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checksumLiteral, quoteIdent, unquoteIdent } from './quote.ts';
import { documentFunctionName, type SourceSql } from './source-sql.ts';

const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

/** The statements: every file of sql/, by name without `.sql`. test/sql-files.test.ts checks that every name the
 * code loads has its file and every file is loaded somewhere. */
export const SQL_FILES: readonly string[] = readdirSync(SQL_DIR).filter((f) => f.endsWith('.sql')).map((f) => f.slice(0, -4)).sort();
/** A statement's name: sql/<name>.sql. */
export type SqlName = string;
const KNOWN = new Set(SQL_FILES);

export interface TemplateExtras {
  readonly dimensions?: number;
  readonly documentSql?: string;
  /** Search functions: true for the per-table name (`<stem>_similar_to`), false for the unqualified one. */
  readonly perTable?: boolean;
  /** source-sweep-index: build without blocking writers (plain tables only). */
  readonly concurrently?: boolean;
  /** source-sweep-index: the current model's checksum, as a literal in the index predicate. */
  readonly modelChecksum?: string;
  /** {{index}}: an index name of our own making (bare: CREATE INDEX and RENAME TO take no schema). */
  readonly index?: string;
  /** {{relation}}, {{partition}}: a table, partition or index, schema-qualified or not, as quote_ident and
   * regclass::text spell it (partitions and their schemas are the user's, so the catalog quotes them). */
  readonly relation?: string;
  readonly partition?: string;
  /** {{column}}: a column the caller names (the configured embedding column or a shadow one). */
  readonly column?: string;
  /** {{index_method}}, {{index_ops}} and {{index_with}}: the vector index's access method, the operator class of
   * the column's type (vector unless said) and, for ivfflat, its lists. */
  readonly vectorIndex?: {
    readonly method: 'ivfflat' | 'hnsw'; readonly lists?: number | undefined; readonly type?: 'vector' | 'halfvec' | undefined;
  };
  /** {{from_embedding}}, {{from_checksum}}, {{from_text_hash}}: the column set a copy reads (shadow-copy-chunk). */
  readonly from?: { readonly embedding: string; readonly checksum: string; readonly textHash: string };
  /** {{table_function:name}}: the stem of a table's generated functions (embedsync.<stem>_<name>). */
  readonly stem?: string;
  /** {{unsynced}}: the vector columns do not exist (yet), so every row needs a vector. */
  readonly noVectorColumns?: boolean;
  /** source-install: the columns EMBEDSYNC_DOCUMENT_SQL reads (unquoted, from the catalog: document-columns.ts). */
  readonly documentColumns?: readonly string[];
  /** source-install: the UPDATE trigger calls the compiled capture function (sql/capture-compiled.sql says when). */
  readonly compiledCapture?: boolean;
  /** Chunk search functions: the recorded model's chunks have their hnsw index (chunk-index.ts), so
   * {{chunk_nearest:n,limit}} reads the n × limit nearest chunks from it; without, every chunk (exact). */
  readonly chunkIndex?: boolean;
}

// Each file is read once: the texts are part of the program, not configuration.
const texts = new Map<SqlName, string>();
// {{key}} or {{key:args}}; args are aliases, column paths (d.document), parameters ($2) and, for {{include:name}}, the
// name of a part two statements share (sql/<name>.sql, rendered with the same source and extras).
const PLACEHOLDER = /\{\{([a-z_]+)(?::([a-z_,.$0-9-]+))?\}\}/g;

function readSql(name: SqlName): string {
  let text = texts.get(name);
  if (text === undefined) {
    if (!KNOWN.has(name)) throw new Error(`no statement ${JSON.stringify(name)}: sql/ has no ${name}.sql`);
    text = readFileSync(`${SQL_DIR}${name}.sql`, 'utf8');
    texts.set(name, text);
  }
  return text;
}

/** The text of sql/<name>.sql, a statement with no placeholders (its values are bind parameters). */
export function loadSql(name: SqlName): string {
  const text = readSql(name);
  if (text.match(PLACEHOLDER)) throw new Error(`sql/${name}.sql has placeholders: render it with renderSql`);
  return text;
}

/** Renders a statement on catalog objects (indexes, partitions) that needs no source: only the extras' placeholders. */
export function renderCatalogSql(name: SqlName, extras: TemplateExtras): string {
  return fill(name, undefined, extras);
}

/** Returns the text of sql/<name>.sql with every placeholder filled; an unknown placeholder throws. */
export function renderSql(name: SqlName, s: SourceSql, extras: TemplateExtras = {}): string {
  return fill(name, s, extras);
}

function fill(name: SqlName, source: SourceSql | undefined, extras: TemplateExtras): string {
  return readSql(name).replace(PLACEHOLDER, (_m, key: string, arg: string | undefined) => {
    if (key === 'include') return fill(need(arg, key), source, extras).trimEnd();
    const catalog = catalogPart(key, arg, extras);
    if (catalog !== undefined) return catalog;
    if (!source) throw new Error(`sql/${name}.sql: {{${key}}} needs the source (renderSql)`);
    const s = source;
    switch (key) {
      case 'table': return s.table;
      case 'id': return s.id;
      case 'id_type': return s.idType;
      case 'embedding': return s.embedding;
      case 'checksum': return s.checksum;
      case 'embedded_at': return s.embeddedAt;
      case 'text_hash': return s.textHash;
      case 'vector_type': return s.vectorType === 'halfvec' ? 'halfvec' : 'vector';
      case 'fulltext': return s.fulltext;
      case 'ts_config': return s.textSearchConfig;
      case 'shadow': return s.shadow ? 'true' : 'false';
      // The state key as an SQL string literal (validated identifiers: no quotes), and bare for messages.
      case 'source_key': return `'${s.sourceKey}'`;
      case 'source_key_text': return s.sourceKey;
      case 'name': return quoteIdent(`${s.stem}_${need(arg, key)}`);
      case 'document': return s.document(need(arg, key));
      case 'document_changed': {
        const [a, b] = need(arg, key).split(',');
        return s.documentChanged(need(a, key), need(b, key));
      }
      case 'unsynced': {
        const [alias, document, param] = need(arg, key).split(',');
        return extras.noVectorColumns ? 'true' : unsyncedRule(s, need(alias, key), need(document, key), need(param, key));
      }
      case 'keyset_page': {
        const [alias, after, limit] = need(arg, key).split(',');
        return keysetPage(s, need(alias, key), need(after, key), need(limit, key));
      }
      case 'dimensions': {
        const d = extras.dimensions;
        if (!Number.isInteger(d) || d! < 1 || d! > 16_000) throw new Error(`invalid vector dimension ${d}`);
        return String(d);
      }
      case 'model_checksum': return checksumLiteral(extras.modelChecksum);
      case 'document_function': return documentFunction(s, extras.documentSql);
      case 'document_expression': {
        if (extras.documentSql === undefined) throw new Error('{{document_expression}} needs EMBEDSYNC_DOCUMENT_SQL');
        return extras.documentSql;
      }
      case 'update_columns': return updateColumns(s, extras).join(', ');
      case 'update_changed': {
        const [a, b] = need(arg, key).split(',').map((x) => alias(need(x, key)));
        // The document's columns as text in collation "C": byte for byte, as the compiled function compares them.
        // A column's own `=` may call two different texts equal (a case-insensitive collation, citext), and
        // EMBEDSYNC_DOCUMENT_SQL may read columns with no equality at all (json, xml, point). For text columns the
        // cast is free. The id keeps its own equality.
        const cols = updateColumns(s, extras);
        const side = (r: string) => cols.map((c) => (c === s.id ? `${r}.${c}` : `${r}.${c}::text COLLATE "C"`)).join(', ');
        return `(${side(a!)}) IS DISTINCT FROM (${side(b!)})`;
      }
      // The UPDATE trigger's function: the compiled one, given the change log and the id column (names in string
      // literals: validated identifiers hold no quote), or the PL/pgSQL one source-install creates.
      case 'update_function': return extras.compiledCapture
        ? `embedsync.capture_update('${unquoteIdent(quoteIdent(`${s.stem}_changes`))}', '${unquoteIdent(s.id)}')`
        : `embedsync.${quoteIdent(`${s.stem}_upd`)}()`;
      case 'document_function_name': return documentFunctionName(s.stem);
      case 'chunk_nearest': {
        // `ORDER BY distance LIMIT n * <limit>`: the nearest chunks through the index. Without it every chunk
        // (exact); OFFSET 0 keeps the subquery a subquery, so its distance is computed once per chunk.
        const [n, ...limits] = need(arg, key).split(',');
        if (!/^[1-9][0-9]?$/.test(n ?? '') || limits.length === 0 || !limits.every((l) => ALIAS.test(l))) {
          throw new Error(`bad {{chunk_nearest:${arg}}}`);
        }
        const limit = limits.length === 1 ? limits[0]! : `greatest(${limits.join(', ')})`;
        return extras.chunkIndex ? `ORDER BY distance LIMIT ${n === '1' ? limit : `${n} * ${limit}`}` : 'OFFSET 0';
      }
      case 'chunk_table': return `embedsync.${quoteIdent(`${s.stem}_chunks`)}`;
      case 'function': return `embedsync.${quoteIdent(extras.perTable === false ? need(arg, key) : `${s.stem}_${need(arg, key)}`)}`;
      default: throw new Error(`sql/${name}.sql: unknown placeholder {{${key}}}`);
    }
  });
}

const ALIAS = /^[a-z_][a-z0-9_]*$/;

function alias(a: string): string {
  if (!ALIAS.test(a)) throw new Error(`bad SQL alias ${a}`);
  return a;
}

/**
 * The columns an UPDATE must touch to change a row's queue entry: the id and what the document is made of.
 * The UPDATE trigger's function compares these raw columns, not the document: no document function, no hash.
 */
function updateColumns(s: SourceSql, extras: TemplateExtras): string[] {
  const doc = extras.documentColumns?.map(quoteIdent) ?? s.documentColumns;
  if (doc.length === 0) throw new Error('source-install needs the columns the document is made of');
  return [...new Set([s.id, ...doc])];
}

const DOCUMENT = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;
const PARAM = /^\$[1-9][0-9]*$/;

/**
 * The one rule for "row `alias` needs (re)encoding by model `param`", given its document expression: its
 * vector is by another model, or was made from other text, or its presence does not match the document
 * (a document has a vector, a blank one has none): the row is unsynced. The sweep, the backfill, migrate's plan and
 * the daemon's read (the unsynced column of read-documents) all use it, so they agree on which rows are current.
 * (Not status's "stale", which counts only the rows with another model's vector.)
 */
function unsyncedRule(s: SourceSql, alias: string, document: string, param: string): string {
  if (!ALIAS.test(alias) || !DOCUMENT.test(document) || !PARAM.test(param)) {
    throw new Error(`bad {{unsynced:${alias},${document},${param}}}`);
  }
  return `(${alias}.${s.checksum} IS DISTINCT FROM ${param}
          OR ${alias}.${s.textHash} IS DISTINCT FROM md5(${document})::uuid
          OR (${alias}.${s.embedding} IS NULL) <> (${document} = ''))`;
}

/**
 * The next `limit` rows of `alias` after id `after` (NULL to start) in key order: keyset paging keeps each
 * chunk of a whole-table walk (sweep, backfill) a short statement, and a rerun skips the finished part fast.
 */
function keysetPage(s: SourceSql, alias: string, after: string, limit: string): string {
  if (!ALIAS.test(alias) || !PARAM.test(after) || !PARAM.test(limit)) throw new Error(`bad {{keyset_page:${alias},${after},${limit}}}`);
  return `WHERE ${after}::text IS NULL OR ${alias}.${s.id} > ${after}::text::${s.idType}
ORDER BY ${alias}.${s.id}
LIMIT ${limit}`;
}

// Catalog names: quoted identifiers ("" doubled inside) or plain lower-case ones, at most schema-qualified.
const CATALOG_NAME = /^(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)(?:\.(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*))?$/;

function catalogPart(key: string, arg: string | undefined, extras: TemplateExtras): string | undefined {
  switch (key) {
    case 'from_embedding': return quoteIdent(need(extras.from, key).embedding);
    case 'from_checksum': return quoteIdent(need(extras.from, key).checksum);
    case 'from_text_hash': return quoteIdent(need(extras.from, key).textHash);
    case 'table_function': return `embedsync.${quoteIdent(`${need(extras.stem, key)}_${need(arg, key)}`)}`;
    case 'concurrently': return extras.concurrently ? 'CONCURRENTLY' : '';
    case 'index': return quoteIdent(need(extras.index, key));
    case 'column': return quoteIdent(need(extras.column, key));
    case 'relation': return catalogName(extras.relation, key);
    case 'partition': return catalogName(extras.partition, key);
    case 'index_method': {
      const m = extras.vectorIndex?.method;
      if (m !== 'ivfflat' && m !== 'hnsw') throw new Error(`invalid vector index method ${m}`);
      return m;
    }
    case 'index_ops': return need(extras.vectorIndex, key).type === 'halfvec' ? 'halfvec_cosine_ops' : 'vector_cosine_ops';
    case 'index_with': {
      const v = need(extras.vectorIndex, key);
      return v.method === 'ivfflat' ? `WITH (lists = ${Math.max(1, Math.floor(v.lists ?? 1))})` : '';
    }
    default: return undefined;
  }
}

function catalogName(v: string | undefined, key: string): string {
  if (!CATALOG_NAME.test(need(v, key))) throw new Error(`{{${key}}}: ${JSON.stringify(v)} is not a quoted SQL name`);
  return v!;
}

function need<T>(v: T | undefined, key: string): T {
  if (!v) throw new Error(`placeholder {{${key}}} needs an argument`);
  return v;
}

// EMBEDSYNC_DOCUMENT_SQL is an expression over unqualified column names; wrapping it in a function of the
// whole row lets the triggers and the daemon evaluate it for any alias (the old and new rows of a trigger
// would otherwise make its column names ambiguous).
function documentFunction(s: SourceSql, documentSql: string | undefined): string {
  if (documentSql === undefined) return '-- documents are built from EMBEDSYNC_TEXT_COLUMNS';
  if (documentSql.includes('$doc$')) throw new Error('EMBEDSYNC_DOCUMENT_SQL must not contain $doc$');
  return `CREATE OR REPLACE FUNCTION ${documentFunctionName(s.stem)}(embedsync_row ${s.table}) RETURNS text
LANGUAGE sql STABLE AS $doc$ SELECT (${documentSql})::text FROM (SELECT (embedsync_row).*) AS r $doc$;`;
}
