// What the catalog says about the configured source table: its id type and the managed columns present.
import type { SourceConfig } from '../config/index.ts';
import { quoteQualified } from '../config/identifiers.ts';
import type { Queryable } from './pool.ts';
import { sourceSql, type SourceSql } from './source-sql.ts';

export interface SourceInfo {
  readonly sql: SourceSql;
  /** Dimension of the existing embedding column, undefined when it does not exist yet. */
  readonly embeddingDimensions: number | undefined;
  /** Managed columns that are missing. */
  readonly missingColumns: readonly string[];
}

export class SourceError extends Error {
  override name = 'SourceError';
}

export async function inspectSource(db: Queryable, source: SourceConfig): Promise<SourceInfo> {
  const rel = quoteQualified(source.table);
  const { rows } = await db.query<{ attname: string; type: string; typname: string; atttypmod: number }>(
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, t.typname, a.atttypmod
     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [rel],
  );
  if (rows.length === 0) throw new SourceError(`source table ${rel} does not exist (EMBEDSYNC_TABLE)`);
  const col = new Map(rows.map((r) => [r.attname, r]));
  const problems: string[] = [];
  const id = col.get(source.idColumn);
  if (!id) problems.push(`id column ${source.idColumn} (EMBEDSYNC_ID_COLUMN) does not exist in ${rel}`);
  if (source.documentSql === undefined) {
    for (const c of source.textColumns) if (!col.get(c)) problems.push(`text column ${c} (EMBEDSYNC_TEXT_COLUMNS) does not exist in ${rel}`);
  }
  const emb = col.get(source.embeddingColumn);
  if (emb && emb.typname !== 'vector') problems.push(`column ${source.embeddingColumn} exists but is ${emb.type}, not vector`);
  if (problems.length) throw new SourceError(problems.join('; '));
  const managed = [source.embeddingColumn, source.checksumColumn, source.embeddedAtColumn, source.textHashColumn];
  return {
    sql: sourceSql(source, id!.type),
    embeddingDimensions: emb && emb.atttypmod > 0 ? emb.atttypmod : undefined,
    missingColumns: managed.filter((c) => !col.has(c)),
  };
}
