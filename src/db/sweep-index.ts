// The checksum index the cheap sweep pass reads (sql/source-sweep-index.sql), created by migrate outside any
// transaction: CONCURRENTLY on a plain table, so a large table's writers are not blocked while it builds. A
// concurrent build that was interrupted leaves an invalid index behind, which IF NOT EXISTS would keep
// forever: it is dropped and built again.
import type pg from 'pg';
import { quoteIdent } from '../config/identifiers.ts';
import type { SourceSql } from './source-sql.ts';
import { renderSql } from './sql-template.ts';

export function sweepIndexName(s: SourceSql): string {
  return `${s.stem}_embedsync_checksum`;
}

export async function ensureSweepIndex(client: pg.Client | pg.PoolClient, s: SourceSql): Promise<void> {
  const name = sweepIndexName(s);
  const { rows } = await client.query<{ partitioned: boolean; schema: string; valid: boolean | null }>(
    `SELECT c.relkind = 'p' AS partitioned, n.nspname AS schema,
            (SELECT i.indisvalid FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE i.indrelid = c.oid AND ic.relname = $2) AS valid
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass`, [s.table, name]);
  const t = rows[0]!;
  if (t.valid === true) return;
  if (t.valid === false) await client.query(`DROP INDEX ${t.partitioned ? '' : 'CONCURRENTLY'} IF EXISTS ${quoteIdent(t.schema)}.${quoteIdent(name)}`);
  await client.query(renderSql('source-sweep-index', s, { concurrently: !t.partitioned }));
}
