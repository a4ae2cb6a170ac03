// What an error about the configured source names as the likely right value: the tables nearest by name to a
// missing EMBEDSYNC_TABLE, the primary key for a missing EMBEDSYNC_ID_COLUMN, the existing text columns for a
// misspelt EMBEDSYNC_TEXT_COLUMNS entry. Read only on the error path.
import type { QualifiedName } from '../config/index.ts';
import { nearestNames } from '../config/nearest.ts';
import type { Queryable } from './pool.ts';
import { loadSql } from './sql-template.ts';

/** How EMBEDSYNC_TABLE names a table: bare in public, schema.table elsewhere. */
function settingName(t: QualifiedName): string {
  return t.schema === 'public' ? t.name : `${t.schema}.${t.name}`;
}

/** Up to three tables of this database, nearest by name first (or that there are none), for a table that does not exist. */
export async function tableHint(db: Queryable, table: QualifiedName): Promise<string> {
  const { rows } = await db.query<{ schema: string; name: string }>(loadSql('source-tables'));
  if (rows.length === 0) return 'this database has no tables: create the table, or point DATABASE_URL at the database that has it';
  // Nearest by table name; the same name in another schema is the nearest of all.
  const byName = nearestNames(table.name, rows.map((r) => r.name), rows.length);
  const seen = new Set<string>();
  const near: string[] = [];
  for (const name of byName) {
    for (const r of rows) {
      const s = settingName(r);
      if (r.name === name && !seen.has(s) && near.length < 3) { seen.add(s); near.push(s); }
    }
  }
  return `tables here, nearest by name first: ${near.join(', ')}`;
}

/** What to set EMBEDSYNC_ID_COLUMN to, from the table's primary key. */
export async function idColumnHint(db: Queryable, rel: string, columns: readonly string[]): Promise<string> {
  const pk = (await db.query<{ name: string }>(loadSql('source-primary-key'), [rel])).rows.map((r) => r.name);
  if (pk.length === 1) return `its primary key is ${pk[0]}, so set EMBEDSYNC_ID_COLUMN=${pk[0]}`;
  const cols = nearestNames('id', columns, 8).join(', ');
  if (pk.length > 1) {
    return `its primary key has several columns (${pk.join(', ')}), and embedsync needs one unique, non-null column: ` +
      `set EMBEDSYNC_ID_COLUMN to such a column (${cols})`;
  }
  return `it has no primary key, so set EMBEDSYNC_ID_COLUMN to a unique, non-null column of ${cols}`;
}

/** The existing text columns, nearest to the misspelt `column` first. */
export function textColumnHint(column: string, textColumns: readonly string[]): string {
  return textColumns.length === 0
    ? 'the table has no text columns: build the document with EMBEDSYNC_DOCUMENT_SQL'
    : `its text columns are ${nearestNames(column, textColumns, textColumns.length).join(', ')}`;
}
