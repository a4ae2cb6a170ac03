// Indexes on a partitioned source table. Postgres builds no index CONCURRENTLY on a partitioned table (nor
// drops one), so the vector index is built the way its documentation describes for that case: an index on
// the parent ONLY (invalid while empty), then each partition's index CONCURRENTLY (readers and writers of
// that partition carry on), attached to the parent's; once every partition's is attached the parent's is valid.
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { quoteIdent } from './quote.ts';
import type { Queryable } from './pool.ts';
import { loadSql, renderCatalogSql } from './sql-template.ts';

/** A vector index's definition: cosine ops on `column` (of its type: vector unless said); lists for ivfflat. */
export interface VectorIndexSpec {
  readonly column: string;
  readonly method: 'ivfflat' | 'hnsw';
  readonly lists: number | undefined;
  readonly type?: 'vector' | 'halfvec';
}

export async function isPartitioned(db: Queryable, table: string): Promise<boolean> {
  const { rows } = await db.query<{ p: boolean }>(loadSql('partition-check'), [table]);
  return rows[0]?.p ?? false;
}

/** DROP INDEX, CONCURRENTLY where Postgres allows it (not on a partitioned index, which drops its partitions' too). */
export async function dropIndex(client: pg.Client | pg.PoolClient, schema: string, name: string, partitioned: boolean): Promise<void> {
  await client.query(renderCatalogSql('index-drop', { concurrently: !partitioned, relation: `${schema}.${quoteIdent(name)}` }));
}

/** Partition index names carry a build nonce: a rebuild (built beside the old index, then swapped) never collides. */
function childName(name: string, nonce: string, n: number): string {
  const full = `${name}_${nonce}_p${n}`;
  return full.length <= 63 ? full : `${name.slice(0, 40)}_${createHash('md5').update(name).digest('hex').slice(0, 6)}_${nonce}_p${n}`;
}

/**
 * Builds vector index `name` as `index` says on the partitioned `table` and each of its partitions (any
 * depth). `leafIndex` gives each leaf's own definition (its lists, from its own row count).
 */
export async function createPartitionedIndex(client: pg.Client | pg.PoolClient, table: string, schema: string, name: string,
  index: VectorIndexSpec, leafIndex: (leafRows: number) => VectorIndexSpec): Promise<void> {
  const { rows } = await client.query<{ rel: string; schema: string; parent: string | null; leaf: boolean; rows: number }>(
    loadSql('partition-tree'), [table]);
  // Partition indexes an interrupted build left unattached (they would cost every write) go first.
  const stray = await client.query<{ q: string }>(loadSql('partition-stray-indexes'), [table, name.slice(0, 40)]);
  for (const r of stray.rows) await client.query(renderCatalogSql('index-drop', { concurrently: true, relation: r.q }));
  const nonce = randomBytes(3).toString('hex');
  const indexOf = new Map<string, string>();
  let n = 0;
  for (const r of rows) {
    const idx = r.parent === null ? name : childName(name, nonce, n++);
    const qualified = `${quoteIdent(r.parent === null ? schema.replace(/^"|"$/g, '') : r.schema)}.${quoteIdent(idx)}`;
    const leaf = r.leaf && r.parent !== null;
    const spec = leaf ? leafIndex(r.rows) : index;
    await client.query(renderCatalogSql(leaf ? 'index-create' : 'index-create-parent',
      { index: idx, relation: r.rel, column: spec.column, vectorIndex: spec }));
    if (r.parent !== null) await client.query(renderCatalogSql('index-attach', { relation: indexOf.get(r.parent)!, partition: qualified }));
    indexOf.set(r.rel, qualified);
  }
}
