// Indexes on a partitioned source table. Postgres builds no index CONCURRENTLY on a partitioned table (nor
// drops one), so the vector index is built the way its documentation describes for that case: an index on
// the parent ONLY (invalid while empty), then each partition's index CONCURRENTLY (readers and writers of
// that partition carry on), attached to the parent's; once every partition's is attached the parent's is valid.
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { quoteIdent } from './quote.ts';
import type { Queryable } from './pool.ts';

export async function isPartitioned(db: Queryable, table: string): Promise<boolean> {
  const { rows } = await db.query<{ p: boolean }>(`SELECT relkind = 'p' AS p FROM pg_class WHERE oid = $1::regclass`, [table]);
  return rows[0]?.p ?? false;
}

/** DROP INDEX, CONCURRENTLY where Postgres allows it (not on a partitioned index, which drops its partitions' too). */
export async function dropIndex(client: pg.Client | pg.PoolClient, schema: string, name: string, partitioned: boolean): Promise<void> {
  await client.query(`DROP INDEX ${partitioned ? '' : 'CONCURRENTLY'} IF EXISTS ${schema}.${quoteIdent(name)}`);
}

/** Partition index names carry a build nonce: a rebuild (built beside the old index, then swapped) never collides. */
function childName(name: string, nonce: string, n: number): string {
  const full = `${name}_${nonce}_p${n}`;
  return full.length <= 63 ? full : `${name.slice(0, 40)}_${createHash('md5').update(name).digest('hex').slice(0, 6)}_${nonce}_p${n}`;
}

/**
 * Builds `using` (e.g. `ivfflat (embedding vector_cosine_ops) WITH (lists = 10)`) as index `name` on the
 * partitioned `table` and each of its partitions (any depth). `childUsing` gives each leaf's own definition
 * (its lists, from its own row count).
 */
export async function createPartitionedIndex(client: pg.Client | pg.PoolClient, table: string, schema: string, name: string,
  using: string, childUsing: (leafRows: number) => string): Promise<void> {
  const { rows } = await client.query<{ rel: string; schema: string; parent: string | null; leaf: boolean; rows: number }>(
    `SELECT p.relid::regclass::text AS rel, n.nspname AS schema, p.parentrelid::regclass::text AS parent, p.isleaf AS leaf,
            greatest(c.reltuples, 0)::float8 AS rows
     FROM pg_partition_tree($1::regclass) p JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
     ORDER BY p.level, p.relid`, [table]);
  // Partition indexes an interrupted build left unattached (they would cost every write) go first.
  const stray = await client.query<{ q: string }>(
    `SELECT quote_ident(n.nspname) || '.' || quote_ident(ic.relname) AS q
     FROM pg_partition_tree($1::regclass) p JOIN pg_index i ON i.indrelid = p.relid
     JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
     WHERE p.parentrelid IS NOT NULL AND starts_with(ic.relname, $2)
       AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = ic.oid)`, [table, name.slice(0, 40)]);
  for (const r of stray.rows) await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${r.q}`);
  const nonce = randomBytes(3).toString('hex');
  const indexOf = new Map<string, string>();
  let n = 0;
  for (const r of rows) {
    const idx = r.parent === null ? name : childName(name, nonce, n++);
    const qualified = `${quoteIdent(r.parent === null ? schema.replace(/^"|"$/g, '') : r.schema)}.${quoteIdent(idx)}`;
    if (r.leaf && r.parent !== null) await client.query(`CREATE INDEX CONCURRENTLY ${quoteIdent(idx)} ON ${r.rel} USING ${childUsing(r.rows)}`);
    else await client.query(`CREATE INDEX ${quoteIdent(idx)} ON ONLY ${r.rel} USING ${using}`);
    if (r.parent !== null) await client.query(`ALTER INDEX ${indexOf.get(r.parent)!} ATTACH PARTITION ${qualified}`);
    indexOf.set(r.rel, qualified);
  }
}
