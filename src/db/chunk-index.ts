// The approximate index of a chunk table (EMBEDSYNC_CHUNKING=tokens): one hnsw index per model, over
// embedding::<type>(<dimensions>) and partial on the model's checksum (sql/chunk-index.sql), so the old and
// the new model's chunks of a shadow migration each have theirs. Built by migrate (the current model's) and
// by a model change before its swap (the new model's), both CONCURRENTLY and so outside any transaction;
// dropped when the chunks of its model are pruned, and with the table. EMBEDSYNC_INDEX=none: no chunk index,
// chunk search stays exact. The search functions read whether the index is there (chunkIndexed) to render
// the matching expression.
import { createHash } from 'node:crypto';
import type { IndexKind } from '../config/index.ts';
import { INSUFFICIENT_PRIVILEGE, sqlState } from './pg-errors.ts';
import type { Queryable } from './pool.ts';
import { quoteIdent } from './quote.ts';
import type { SourceSql } from './source-sql.ts';
import { loadSql, renderCatalogSql, renderSql } from './sql-template.ts';
import { readModelState } from './state-repository.ts';

/** The model whose chunks an index covers. */
export interface ChunkModel {
  readonly checksum: string;
  readonly dimensions: number;
}

/** `<stem>_chunks_<12 hex>`: one name per checksum, vector type and dimension (within NAMEDATALEN: stem <= 40). */
export function chunkIndexName(s: SourceSql, m: ChunkModel): string {
  const h = createHash('sha256').update(`${m.checksum}:${s.vectorType}:${m.dimensions}`).digest('hex').slice(0, 12);
  return `${s.stem}_chunks_${h}`;
}

interface ChunkIndexRow {
  readonly name: string;
  readonly bare: string;
  readonly valid: boolean;
  /** Its predicate names the state's model or a migration's target. */
  readonly named: boolean;
}

async function listChunkIndexes(db: Queryable, s: SourceSql): Promise<ChunkIndexRow[]> {
  return (await db.query<ChunkIndexRow>(loadSql('chunk-index-list'), [`embedsync.${quoteIdent(`${s.stem}_chunks`)}`, s.sourceKey])).rows;
}

/** Whether model `m`'s chunks have their valid index: the search functions use it only then. */
export async function chunkIndexed(db: Queryable, s: SourceSql, m: ChunkModel): Promise<boolean> {
  const name = chunkIndexName(s, m);
  return (await listChunkIndexes(db, s)).some((i) => i.bare === name && i.valid);
}

export interface ChunkIndexBuild {
  readonly name: string;
  /** false: it was there already. */
  readonly built: boolean;
  readonly seconds: number;
}

/**
 * Builds model `m`'s chunk index if it is missing (a half-built one of a build that died is dropped first); with
 * EMBEDSYNC_INDEX=none drops every chunk index instead. CONCURRENTLY: call it outside a transaction.
 */
export async function ensureChunkIndex(db: Queryable, s: SourceSql, m: ChunkModel, kind: IndexKind,
  maintenanceWorkMem: string): Promise<ChunkIndexBuild | undefined> {
  if (!s.chunking) return undefined;
  const found = await listChunkIndexes(db, s);
  if (kind === 'none') {
    for (const i of found) await db.query(renderCatalogSql('index-drop', { relation: i.name, concurrently: true }));
    return undefined;
  }
  const name = chunkIndexName(s, m);
  const mine = found.find((i) => i.bare === name);
  if (mine?.valid) return { name, built: false, seconds: 0 };
  if (mine) await db.query(renderCatalogSql('index-drop', { relation: mine.name, concurrently: true }));
  await db.query(loadSql('index-build-memory'), [maintenanceWorkMem]);
  const started = performance.now();
  try {
    await db.query(renderSql('chunk-index', s, { index: name, dimensions: m.dimensions, modelChecksum: m.checksum }));
  } finally {
    await db.query(loadSql('index-build-memory-reset')).catch(() => undefined);
  }
  return { name, built: true, seconds: (performance.now() - started) / 1000 };
}

/**
 * Drops the chunk indexes of models the state no longer names (with their chunks, chunk-prune.sql); how many.
 * `byName` (migrate, which knows the column's type): with no migration under way, only the current model's
 * index of the table's vector type stays (a switch of the vector type keeps the checksum, so the predicate
 * alone would keep the old type's index); the sweep drops by predicate only (its view of the type may predate
 * a swap). `concurrently` outside a transaction, so a search in flight is never queued behind the drop. A role
 * that does not own the chunk table (the daemon's, under least privilege) leaves them to migrate.
 */
export async function dropStaleChunkIndexes(db: Queryable, s: SourceSql,
  o: { readonly byName: boolean; readonly concurrently: boolean }): Promise<number> {
  if (!s.chunking) return 0;
  const state = o.byName ? await readModelState(db, s.sourceKey) : undefined;
  const current = state && !state.migration ? chunkIndexName(s, state) : undefined;
  let dropped = 0;
  for (const i of await listChunkIndexes(db, s)) {
    if (i.named && (current === undefined || i.bare === current)) continue;
    try {
      await db.query(renderCatalogSql('index-drop', { relation: i.name, concurrently: o.concurrently }));
      dropped++;
    } catch (err) {
      if (sqlState(err) !== INSUFFICIENT_PRIVILEGE) throw err;
    }
  }
  return dropped;
}
