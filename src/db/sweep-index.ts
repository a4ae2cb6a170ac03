// The partial index the cheap sweep pass reads (sql/source-sweep-index.sql): ids of rows not embedded by the
// current model. Created by migrate outside any transaction, CONCURRENTLY on a plain table so a large table's
// writers are not blocked while it builds. Its predicate names the model checksum, so a model change replaces
// it; a concurrent build that was interrupted leaves an invalid index, which is dropped and built again.
import type pg from 'pg';
import type { SourceSql } from './source-sql.ts';
import { checksumLiteral, quoteIdent } from './quote.ts';
import { renderSql } from './sql-template.ts';

export function sweepIndexName(s: SourceSql): string {
  return `${s.stem}_embedsync_stale`;
}

export async function ensureSweepIndex(client: pg.Client | pg.PoolClient, s: SourceSql, checksum: string): Promise<void> {
  const name = sweepIndexName(s);
  const { rows } = await client.query<{ partitioned: boolean; schema: string; valid: boolean | null; current: boolean | null }>(
    `SELECT c.relkind = 'p' AS partitioned, n.nspname AS schema, i.indisvalid AS valid,
            strpos(pg_get_expr(i.indpred, i.indrelid), $3) > 0 AS current
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN (pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid AND ic.relname = $2) ON i.indrelid = c.oid
     WHERE c.oid = $1::regclass`, [s.table, name, checksumLiteral(checksum)]);
  const t = rows[0]!;
  if (t.valid === true && t.current === true) return;
  if (t.valid !== null) await client.query(`DROP INDEX ${t.partitioned ? '' : 'CONCURRENTLY'} IF EXISTS ${quoteIdent(t.schema)}.${quoteIdent(name)}`);
  await client.query(renderSql('source-sweep-index', s, { concurrently: !t.partitioned, modelChecksum: checksum }));
}
