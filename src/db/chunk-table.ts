// The chunk table of a chunked source (EMBEDSYNC_CHUNKING=tokens), embedsync.<stem>_chunks: installed or taken
// away by migrate as the setting says, its search functions, the prune of chunks by models the state no longer
// names, and its counts for status. The writes are in src/queue/chunk-write.ts.
import type { SourceConfig } from '../config/index.ts';
import type { Queryable } from './pool.ts';
import { readRecordedSource, settingsDiff, SettingsChangedError } from './source-settings.ts';
import type { SourceSql } from './source-sql.ts';
import { renderSql, type TemplateExtras } from './sql-template.ts';
import { chunkIndexed, dropStaleChunkIndexes } from './chunk-index.ts';
import { readModelState } from './state-repository.ts';

/**
 * Before a daemon writes a table: its chunk settings must be the ones migrate recorded. A daemon that does not
 * chunk a chunked table would write row vectors and leave the old chunks of the text behind (and one that
 * chunks an unchunked table has no chunk table): refused, naming the settings, like migrate refuses them.
 */
export async function checkChunkingRecorded(db: Queryable, source: SourceConfig): Promise<void> {
  const recorded = await readRecordedSource(db, `${source.table.schema}.${source.table.name}`);
  if (!recorded) return;
  const diff = settingsDiff(recorded.source, source).filter((d) => d.startsWith('EMBEDSYNC_CHUNK'));
  if (diff.length > 0) throw new SettingsChangedError(`${source.table.schema}.${source.table.name}`, diff);
}

export interface ChunkInstall {
  /** Rows whose vector predates the switch to chunking, queued to be encoded again in chunks. */
  readonly restaled: number;
}

/**
 * With chunking: the chunk table and its DELETE/TRUNCATE triggers, and the rows embedded without chunks made
 * stale (and queued) so they are encoded again in chunks. Without: any chunk table of an earlier setting goes.
 */
export async function installChunkTable(db: Queryable, s: SourceSql): Promise<ChunkInstall> {
  if (!s.chunking) {
    await db.query(renderSql('chunk-table-drop', s));
    return { restaled: 0 };
  }
  await db.query(renderSql('chunk-table', s));
  const r = await db.query(renderSql('chunk-rows-stale', s));
  await db.query(renderSql('chunk-prune', s));
  await dropStaleChunkIndexes(db, s, { byName: true, concurrently: false });
  return { restaled: r.rowCount ?? 0 };
}

/**
 * The chunk versions of a table's search functions (per table, or the unqualified ones) and its passage search,
 * rendered for the model the state records: its checksum as a literal and its dimension in the cast, the
 * expression and predicate of its partial hnsw index (chunk-index.ts), used when that index is there. So they
 * are rendered again whenever the recorded model changes: by migrate, and in the swap's transaction.
 */
export async function installChunkSearch(db: Queryable, s: SourceSql, perTable: boolean): Promise<string[]> {
  const state = await readModelState(db, s.sourceKey);
  if (!state) throw new Error(`${s.sourceKey} has no model recorded: its chunk search is installed after migrate records one`);
  const extras: TemplateExtras = {
    perTable, modelChecksum: state.checksum, dimensions: state.dimensions, chunkIndex: await chunkIndexed(db, s, state),
  };
  await db.query(renderSql('chunk-similar-to', s, extras));
  await db.query(renderSql('chunk-search', s, extras));
  await db.query(renderSql('chunk-hybrid-search', s, extras));
  if (!perTable) return [];
  await db.query(renderSql('chunk-passages', s, extras));
  return [`embedsync.${s.stem}_search_chunks`];
}

/** `embedsync remove`: the chunk table, its triggers and its passage search. */
export async function dropChunkTable(db: Queryable, s: SourceSql): Promise<void> {
  await db.query(renderSql('chunk-table-drop', s));
}

/**
 * Deletes chunks by models the state no longer names (after a model change), and their indexes (concurrently:
 * not inside a transaction); how many chunks went.
 */
export async function pruneChunks(db: Queryable, s: SourceSql): Promise<number> {
  if (!s.chunking) return 0;
  const r = await db.query(renderSql('chunk-prune', s));
  await dropStaleChunkIndexes(db, s, { byName: false, concurrently: true });
  return r.rowCount ?? 0;
}

/**
 * The end of a verification round of a chunked table: rows whose vector has no chunks of its model are made
 * stale and queued, and chunks of models the state no longer names go. One statement each over the table.
 */
export async function verifyChunks(db: Queryable, s: SourceSql): Promise<{ restaled: number; pruned: number }> {
  if (!s.chunking) return { restaled: 0, pruned: 0 };
  const r = await db.query(renderSql('chunk-rows-stale', s));
  return { restaled: r.rowCount ?? 0, pruned: await pruneChunks(db, s) };
}

export interface ChunkStats {
  /** Chunks by the recorded model (estimated: every chunk in the table, from the planner's statistics). */
  readonly chunks: number;
  /** Rows that have them; null when estimated. */
  readonly rows: number | null;
  readonly estimated: boolean;
}

/** The chunk counts of a chunked table: exact when asked or small, else estimated (sql/chunk-stats.sql). */
export async function chunkStats(db: Queryable, s: SourceSql, exact = false): Promise<ChunkStats | undefined> {
  if (!s.chunking) return undefined;
  const { rows } = await db.query<{ chunks: string; rows: string | null; estimated: boolean }>(renderSql('chunk-stats', s), [exact]);
  const r = rows[0];
  if (!r) return undefined;
  return { chunks: Number(r.chunks), rows: r.rows === null ? null : Number(r.rows), estimated: r.estimated };
}
