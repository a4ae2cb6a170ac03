// Commands that read embedsync's own tables check for them first, so a database (or a table) not migrated yet
// gets "run `embedsync migrate` first" instead of PostgreSQL's `schema "embedsync" does not exist`.
import type { Queryable } from './pool.ts';
import type { SourceInfo } from './source-info.ts';
import { hasSchemaTable, type SchemaTable } from './state-repository.ts';

export const MIGRATE_FIRST = 'run `embedsync migrate` first';

export class NotInstalledError extends Error {
  override name = 'NotInstalledError';
}

/** Throws NotInstalledError unless every one of embedsync's `tables` exists (a migrate by an older version lacks some). */
export async function requireInstalled(db: Queryable, tables: readonly SchemaTable[]): Promise<void> {
  for (const t of tables) {
    if (!await hasSchemaTable(db, t)) throw new NotInstalledError(`embedsync is not installed in this database: ${MIGRATE_FIRST}`);
  }
}

/** Throws NotInstalledError when the source table lacks the columns migrate adds (another table may be migrated). */
export function requireSourceMigrated(info: SourceInfo): void {
  if (info.missingColumns.length > 0) {
    throw new NotInstalledError(`${info.sql.table} is not set up for embedsync ` +
      `(no column ${info.missingColumns.join(', ')}): ${MIGRATE_FIRST}`);
  }
}
