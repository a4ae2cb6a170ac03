// The partial index the cheap sweep pass reads (sql/source-sweep-index.sql): ids of rows not embedded by the
// current model. Created by migrate outside any transaction, CONCURRENTLY on a plain table so a large table's
// writers are not blocked while it builds. Its predicate names the model checksum, so a model change replaces
// it; a concurrent build that was interrupted leaves an invalid index, which is dropped and built again.
import type pg from 'pg';
import type { SourceSql } from './source-sql.ts';
import { checksumLiteral, quoteIdent } from './quote.ts';
import { loadSql, renderCatalogSql, renderSql } from './sql-template.ts';

export function sweepIndexName(s: SourceSql): string {
  return `${s.stem}_embedsync_stale`;
}

export async function ensureSweepIndex(client: pg.Client | pg.PoolClient, s: SourceSql, checksum: string): Promise<void> {
  const name = sweepIndexName(s);
  const { rows } = await client.query<{ partitioned: boolean; schema: string; valid: boolean | null; current: boolean | null }>(
    loadSql('source-sweep-index-state'), [s.table, name, checksumLiteral(checksum)]);
  const t = rows[0]!;
  if (t.valid === true && t.current === true) return;
  if (t.valid !== null) {
    await client.query(renderCatalogSql('index-drop',
      { concurrently: !t.partitioned, relation: `${quoteIdent(t.schema)}.${quoteIdent(name)}` }));
  }
  await client.query(renderSql('source-sweep-index', s, { concurrently: !t.partitioned, modelChecksum: checksum }));
}
