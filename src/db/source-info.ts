// What the catalog says about the configured source table: its id type and the managed columns present.
import { VECTOR_TYPES, type SourceConfig, type VectorType } from '../config/index.ts';
import { quoteIdent, quoteQualified } from './quote.ts';
import type { Queryable } from './pool.ts';
import { idColumnHint, tableHint, textColumnHint } from './source-hints.ts';
import { sourceSql, type SourceSql } from './source-sql.ts';

export interface SourceInfo {
  readonly sql: SourceSql;
  /** Dimension of the existing embedding column, undefined when it does not exist yet. */
  readonly embeddingDimensions: number | undefined;
  /** Type of the existing embedding column (vector or halfvec), undefined when it does not exist yet. */
  readonly embeddingType: VectorType | undefined;
  /** Managed columns that are missing. */
  readonly missingColumns: readonly string[];
}

/** Column types whose values are text as they are; anything else needs EMBEDSYNC_DOCUMENT_SQL to say how. */
export const TEXT_TYPES = ['text', 'varchar', 'bpchar', 'citext', 'name'] as const;

export class SourceError extends Error {
  override name = 'SourceError';
  /** The statement or setting that mends it, when there is one (doctor prints it as the fix line). */
  readonly fix: string | undefined;
  constructor(message: string, fix?: string) {
    super(message);
    this.fix = fix;
  }
}

export async function inspectSource(db: Queryable, source: SourceConfig): Promise<SourceInfo> {
  const rel = quoteQualified(source.table);
  const { rows } = await db.query<{ attname: string; type: string; typname: string; atttypmod: number }>(
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, t.typname, a.atttypmod
     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [rel],
  );
  if (rows.length === 0) {
    throw new SourceError(`source table ${rel} does not exist (EMBEDSYNC_TABLE): ${await tableHint(db, source.table)}`);
  }
  const col = new Map(rows.map((r) => [r.attname, r]));
  const problems: string[] = [];
  const id = col.get(source.idColumn);
  if (!id) {
    problems.push(`id column ${source.idColumn} (EMBEDSYNC_ID_COLUMN) does not exist in ${rel}: ` +
      `${await idColumnHint(db, rel, [...col.keys()])}`);
  }
  if (source.documentSql === undefined) {
    const textColumns = rows.filter((r) => (TEXT_TYPES as readonly string[]).includes(r.typname)).map((r) => r.attname);
    for (const c of source.textColumns) {
      const t = col.get(c);
      if (!t) problems.push(`text column ${c} (EMBEDSYNC_TEXT_COLUMNS) does not exist in ${rel}: ${textColumnHint(c, textColumns)}`);
      else if (!(TEXT_TYPES as readonly string[]).includes(t.typname)) {
        problems.push(`text column ${c} (EMBEDSYNC_TEXT_COLUMNS) is ${t.type}; allowed are text, character varying, character, citext: ` +
          `drop it from EMBEDSYNC_TEXT_COLUMNS, or build the document with EMBEDSYNC_DOCUMENT_SQL (e.g. title || ' ' || ${c}::text)`);
      }
    }
  }
  const emb = col.get(source.embeddingColumn);
  if (emb && !(VECTOR_TYPES as readonly string[]).includes(emb.typname)) {
    problems.push(`column ${source.embeddingColumn} exists but is ${emb.type}, not vector or halfvec`);
  }
  if (problems.length) throw new SourceError(problems.join('\n  '));
  const managed = [source.embeddingColumn, source.checksumColumn, source.embeddedAtColumn, source.textHashColumn, source.fulltextColumn];
  const embeddingType = emb ? emb.typname as VectorType : undefined;
  return {
    sql: sourceSql(source, id!.type, embeddingType),
    embeddingDimensions: emb && emb.atttypmod > 0 ? emb.atttypmod : undefined,
    embeddingType,
    missingColumns: managed.filter((c) => !col.has(c)),
  };
}

/**
 * Refuses an id column that does not name one row: embedsync queues, dequeues and writes by id, so
 * duplicates would share one queue entry and a NULL id could not be queued at all. Says what to add.
 */
export async function checkIdColumn(db: Queryable, source: SourceConfig): Promise<void> {
  const rel = quoteQualified(source.table);
  const { rows } = await db.query<{ not_null: boolean; is_unique: boolean }>(
    `SELECT a.attnotnull AS not_null,
            EXISTS (SELECT 1 FROM pg_index i
                    WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indisvalid AND i.indnkeyatts = 1
                      AND i.indkey[0] = a.attnum AND i.indpred IS NULL AND i.indexprs IS NULL) AS is_unique
     FROM pg_attribute a
     WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped`,
    [rel, source.idColumn],
  );
  const r = rows[0];
  if (!r) return; // a missing table or column is reported by inspectSource
  if (r.is_unique && r.not_null) return;
  const id = quoteIdent(source.idColumn);
  const fix = !r.is_unique
    ? `ALTER TABLE ${rel} ADD PRIMARY KEY (${id});` + (r.not_null ? ` (or ADD UNIQUE (${id}))` : '')
    : `ALTER TABLE ${rel} ALTER COLUMN ${id} SET NOT NULL;`;
  const what = [!r.is_unique && 'is not unique (no primary key or unique index on it alone)', !r.not_null && 'allows NULL']
    .filter(Boolean).join(' and ');
  throw new SourceError(`id column ${source.idColumn} (EMBEDSYNC_ID_COLUMN) of ${rel} ${what}: embedsync needs one row per id, ` +
    `or the application's own writes could fail. Add it with: ${fix}`, fix);
}
