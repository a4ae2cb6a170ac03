// The `columns` step of a model migration: the shadow columns the new model's vectors are backfilled into,
// with the column privileges of the ones they will replace.
import type pg from 'pg';
import type { VectorColumns } from '../db/model-state.ts';
import { quoteIdent } from '../db/quote.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { loadSql, renderSql } from '../db/sql-template.ts';

const COLUMN_PRIVILEGES = new Set(['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']);

/** Adds the shadow columns (`nextSql` names them) for `dimensions`-vectors; runs inside the caller's short lock. */
export async function addShadowColumns(client: pg.Client, s: SourceSql, nextSql: SourceSql, main: VectorColumns, next: VectorColumns,
  dimensions: number): Promise<void> {
  await client.query(renderSql('shadow-columns', nextSql, { dimensions }));
  await copyColumnGrants(client, s, main, next);
}

/**
 * Column privileges belong to the column, not its name: a daemon role granted UPDATE on the vector columns
 * (docs/security.md) would lose it at the swap. The shadow columns get the same grants as the ones they replace.
 */
async function copyColumnGrants(client: pg.Client, s: SourceSql, from: VectorColumns, to: VectorColumns): Promise<void> {
  for (const k of ['embedding', 'checksum', 'textHash'] as const) {
    const { rows } = await client.query<{ privilege: string; grantee: string }>(loadSql('column-grants'), [s.table, from[k]]);
    for (const r of rows) {
      // privilege_type is one of a closed set and the grantee comes quoted by quote_ident.
      if (!COLUMN_PRIVILEGES.has(r.privilege)) continue;
      await client.query(`GRANT ${r.privilege} (${quoteIdent(to[k])}) ON ${s.table} TO ${r.grantee}`);
    }
  }
}
