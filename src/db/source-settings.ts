// What migrate recorded about each table (embedsync.sources): its columns, document, model and index policy.
// A daemon serving several tables builds each table's SourceConfig from here instead of the environment, and
// migrate compares the configured settings with the recorded ones before it changes anything.
import { CHUNKINGS, INDEX_KINDS, parseQualifiedName, type IndexKind, type SourceConfig, type TableSelection } from '../config/index.ts';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Queryable } from './pool.ts';
import { sourceKeyOf } from './source-sql.ts';
import { loadSql } from './sql-template.ts';
import type { ModelIdentity } from './state-repository.ts';

/** The settings of one table as migrate records them. */
export interface RecordedSource {
  readonly source: SourceConfig;
  /** EMBEDDING_MODEL as migrate loaded it: a folder or a hub id. */
  readonly model: string;
  readonly checksum: string;
  readonly dimensions: number;
}

interface SourceRow {
  source: string;
  id_column: string;
  text_columns: string[];
  document_sql: string | null;
  embedding_column: string;
  checksum_column: string;
  embedded_at_column: string;
  text_hash_column: string;
  model: string;
  model_checksum: string;
  dimensions: number;
  index_kind: string;
  index_growth_factor: number;
  index_min_rows: number;
  index_build_memory: string;
  bulk_rows: number;
  vector_type: string;
  fulltext_column: string;
  text_search_config: string;
  chunking?: string;
  chunk_tokens?: number | null;
  chunk_overlap?: number;
}

function fromRow(r: SourceRow): RecordedSource {
  const table = parseQualifiedName(r.source).value;
  if (!table) throw new Error(`embedsync.sources names ${JSON.stringify(r.source)}, which is not schema.table`);
  const kind = (INDEX_KINDS as readonly string[]).includes(r.index_kind) ? r.index_kind as IndexKind : 'ivfflat';
  return {
    source: {
      table, idColumn: r.id_column, textColumns: r.text_columns, documentSql: r.document_sql ?? undefined,
      embeddingColumn: r.embedding_column, checksumColumn: r.checksum_column, embeddedAtColumn: r.embedded_at_column,
      textHashColumn: r.text_hash_column, index: kind, indexGrowthFactor: r.index_growth_factor,
      indexMinRows: r.index_min_rows, indexBuildMemory: r.index_build_memory, bulkRows: r.bulk_rows,
      vectorType: r.vector_type === 'halfvec' ? 'halfvec' : 'vector', fulltextColumn: r.fulltext_column,
      textSearchConfig: r.text_search_config,
      chunking: CHUNKINGS.find((c) => c === r.chunking) ?? 'none', chunkTokens: r.chunk_tokens ?? undefined,
      chunkOverlap: r.chunk_overlap ?? 64,
    },
    model: r.model, checksum: r.model_checksum, dimensions: r.dimensions,
  };
}

/** Every recorded table; none on a database whose schema predates the record. */
export async function readRecordedSources(db: Queryable): Promise<RecordedSource[]> {
  const ok = (await db.query<{ ok: boolean }>(loadSql('schema-has-table'), ['embedsync.sources'])).rows[0]!.ok;
  if (!ok) return [];
  return (await db.query<SourceRow>(loadSql('sources-read'))).rows.map(fromRow);
}

export async function readRecordedSource(db: Queryable, sourceKey: string): Promise<RecordedSource | undefined> {
  const ok = (await db.query<{ ok: boolean }>(loadSql('schema-has-table'), ['embedsync.sources'])).rows[0]!.ok;
  if (!ok) return undefined;
  const r = (await db.query<SourceRow>(loadSql('source-settings-read'), [sourceKey])).rows[0];
  return r && fromRow(r);
}

export async function recordSource(db: Queryable, r: RecordedSource): Promise<void> {
  const s = r.source;
  await db.query(loadSql('source-settings-write'), [
    sourceKeyOf(s), s.idColumn, [...s.textColumns], s.documentSql ?? null, s.embeddingColumn, s.checksumColumn,
    s.embeddedAtColumn, s.textHashColumn, r.model, r.checksum, r.dimensions, s.index, s.indexGrowthFactor,
    s.indexMinRows, s.indexBuildMemory, s.bulkRows, s.vectorType, s.fulltextColumn, s.textSearchConfig,
    s.chunking, s.chunkTokens ?? null, s.chunkOverlap,
  ]);
}

/**
 * EMBEDDING_MODEL as migrate records it: a folder given relative to the working directory as an absolute path
 * (daemons serving every table may run elsewhere), anything else (a hub id, an absolute path) as it is.
 */
export function recordedModelName(model: string, cwd: string): string {
  const folder = resolve(cwd, model);
  return !isAbsolute(model) && existsSync(folder) ? folder : model;
}

export function recordOf(source: SourceConfig, modelSpec: string, model: ModelIdentity): RecordedSource {
  return { source, model: modelSpec, checksum: model.checksum, dimensions: model.dimensions };
}

/**
 * The table settings (not the model: a model change is migrate's own business) that differ between the
 * recorded ones and the configured ones, as "SETTING: recorded -> configured" lines.
 */
export function settingsDiff(recorded: SourceConfig, configured: SourceConfig): string[] {
  const show = (v: unknown) =>
    (v === undefined ? '(unset)' : Array.isArray(v) ? v.join(',') : String(v as string | number | boolean | null));
  const pairs: ReadonlyArray<readonly [string, unknown, unknown]> = [
    ['EMBEDSYNC_ID_COLUMN', recorded.idColumn, configured.idColumn],
    // The text columns matter only when they make the document.
    ['EMBEDSYNC_TEXT_COLUMNS', recorded.documentSql === undefined ? recorded.textColumns : undefined,
      configured.documentSql === undefined ? configured.textColumns : undefined],
    ['EMBEDSYNC_DOCUMENT_SQL', recorded.documentSql, configured.documentSql],
    ['EMBEDSYNC_EMBEDDING_COLUMN', recorded.embeddingColumn, configured.embeddingColumn],
    ['EMBEDSYNC_CHECKSUM_COLUMN', recorded.checksumColumn, configured.checksumColumn],
    ['EMBEDSYNC_EMBEDDED_AT_COLUMN', recorded.embeddedAtColumn, configured.embeddedAtColumn],
    ['EMBEDSYNC_TEXT_HASH_COLUMN', recorded.textHashColumn, configured.textHashColumn],
    ['EMBEDSYNC_INDEX', recorded.index, configured.index],
    ['EMBEDSYNC_INDEX_GROWTH_FACTOR', recorded.indexGrowthFactor, configured.indexGrowthFactor],
    ['EMBEDSYNC_INDEX_MIN_ROWS', recorded.indexMinRows, configured.indexMinRows],
    ['EMBEDSYNC_INDEX_BUILD_MEMORY', recorded.indexBuildMemory, configured.indexBuildMemory],
    ['EMBEDSYNC_BULK_ROWS', recorded.bulkRows, configured.bulkRows],
    ['EMBEDSYNC_FULLTEXT_COLUMN', recorded.fulltextColumn, configured.fulltextColumn],
    ['EMBEDSYNC_CHUNKING', recorded.chunking, configured.chunking],
    ['EMBEDSYNC_CHUNK_TOKENS', recorded.chunkTokens, configured.chunkTokens],
    ['EMBEDSYNC_CHUNK_OVERLAP', recorded.chunkOverlap, configured.chunkOverlap],
  ];
  return pairs.filter(([, a, b]) => show(a) !== show(b)).map(([k, a, b]) => `${k}: recorded ${show(a)}, configured ${show(b)}`);
}

export class SettingsChangedError extends Error {
  override name = 'SettingsChangedError';
  constructor(readonly sourceKey: string, readonly differences: readonly string[]) {
    super(`${sourceKey} was migrated with other settings than the configured ones:\n${differences.map((d) => `  - ${d}`).join('\n')}\n` +
      'run `embedsync migrate --update-settings` to record the configured ones (the triggers and document follow them), ' +
      'or configure the recorded ones');
  }
}

/**
 * Before migrate changes anything: the differences between the recorded settings of `source`'s table and the
 * configured ones. Refused (SettingsChangedError) unless `update`: settings change on purpose only.
 */
export async function checkRecordedSettings(db: Queryable, source: SourceConfig, update: boolean): Promise<string[]> {
  const recorded = await readRecordedSource(db, sourceKeyOf(source));
  if (!recorded) return [];
  const diff = settingsDiff(recorded.source, source);
  if (diff.length > 0 && !update) throw new SettingsChangedError(sourceKeyOf(source), diff);
  return diff;
}

/**
 * The tables a command covers, each with its model: with one table the configured one (its settings and
 * EMBEDDING_MODEL), with a list or `*` the recorded ones (a listed table migrate has not recorded is said).
 */
export async function selectedSources(
  db: Queryable,
  config: { readonly source: SourceConfig; readonly tables: TableSelection; readonly model: { readonly model: string } },
): Promise<{
  readonly sources: readonly { readonly source: SourceConfig; readonly model: string }[];
  readonly unrecorded: readonly string[];
}> {
  if (config.tables.kind === 'one') return { sources: [{ source: config.source, model: config.model.model }], unrecorded: [] };
  const recorded = await readRecordedSources(db);
  if (config.tables.kind === 'all') return { sources: recorded, unrecorded: [] };
  const keys = config.tables.tables.map((t) => sourceKeyOf({ table: t }));
  return {
    sources: recorded.filter((r) => keys.includes(sourceKeyOf(r.source))),
    unrecorded: keys.filter((k) => !recorded.some((r) => sourceKeyOf(r.source) === k)),
  };
}
