// The plain half of `embedsync migrate`: installs or upgrades the schema for the configured source and model,
// then enqueues every unsynced row (embedding missing, by another model or of other text: the enqueue pass); finishMigrate() installs the
// search functions and builds the index once the columns are in place. A model change goes first through
// migrateModel() (model-migration.ts). Each returns what it did; the command (src/cli/migrate.ts) prints it.
import type { Config } from '../config/index.ts';
import type { ModelInfo } from '../encoder/types.ts';
import { migrateSchema, type MigrateResult } from './schema-install.ts';
import { createClient } from '../db/pool.ts';
import { loadSql, renderSql } from '../db/sql-template.ts';
import { enqueueUnsynced } from '../queue/sweep.ts';
import { retryDeadLetters } from '../queue/deadletter.ts';
import { progressBar, type ProgressOutput } from '../lib/progress-bar.ts';
import { checkRecordedSettings, recordOf } from '../db/source-settings.ts';
import { releaseMigrateLock, takeMigrateLock } from '../db/migrate-lock.ts';
import { installSearchFunctions, type InstalledSearch } from '../db/search-functions.ts';
import { indexPolicyOf } from '../db/index-maintenance.ts';
import { inspectSource } from '../db/source-info.ts';
import { ensureIndex, type EnsureResult } from '../db/vector-index.ts';
import { ensureChunkIndex, type ChunkIndexBuild } from '../db/chunk-index.ts';
import { readModelState } from '../db/state-repository.ts';

export interface MigrateOptions {
  readonly config: Config;
  readonly model: Pick<ModelInfo, 'name' | 'checksum' | 'dimensions'>;
  /** Where the progress bar goes (drawn only on a TTY). */
  readonly progress?: ProgressOutput;
  readonly signal?: AbortSignal;
  /** Record configured table settings that differ from the recorded ones (otherwise refused). */
  readonly updateSettings?: boolean;
}

/** Enqueue passes that enqueue at least this many rows refresh the queue's planner statistics. */
const ANALYZE_AFTER_ROWS = 1000;

export interface MigrateSummary extends MigrateResult {
  readonly scanned: number;
  readonly enqueued: number;
  /** Dead letters moved back to the queue because the model changed (the enqueue pass leaves them otherwise). */
  readonly retriedDeadLetters: number;
}

export async function migrate(o: MigrateOptions): Promise<MigrateSummary> {
  const client = createClient({ databaseUrl: o.config.databaseUrl, applicationName: 'embedsync-migrate' });
  await client.connect();
  try {
    const result = await migrateSchema(client, o.config.source, o.model, {
      record: recordOf(o.config.source, o.config.model.model, o.model), updateSettings: o.updateSettings ?? false,
    });
    // A new model is a new chance for the rows the old one could not embed; a rerun with the same model leaves
    // them dead-lettered (enqueue-unsynced.sql), so no migrate on every deploy starts a crash row's restarts over.
    const retriedDeadLetters = result.previousChecksum ? await retryDeadLetters(client, result.source.sql.sourceKey) : 0;
    const total = Number((await client.query<{ n: string }>(renderSql('row-count', result.source.sql))).rows[0]!.n);
    const bar = progressBar(o.progress, 'enqueue');
    const r = await enqueueUnsynced(client, result.source.sql, o.model.checksum, {
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: (p) => bar.update(p.scanned, total),
    });
    bar.finish();
    // Measured on 100k queued rows without fresh statistics: claims 25 ms instead of 7.5 ms, the daemon 30% slower.
    if (r.enqueued >= ANALYZE_AFTER_ROWS) await client.query(loadSql('queue-analyze'));
    return { ...result, ...r, retriedDeadLetters };
  } finally {
    await client.end();
  }
}

/**
 * Table settings that differ from the ones migrate recorded, as `name: recorded -> configured`: refused
 * (SettingsChangedError) before anything changes unless `update`.
 */
export async function checkSettings(config: Config, update: boolean): Promise<string[]> {
  const client = createClient({ databaseUrl: config.databaseUrl, applicationName: 'embedsync-migrate' });
  await client.connect();
  try {
    return await checkRecordedSettings(client, config.source, update);
  } finally {
    await client.end();
  }
}

export interface FinishResult {
  readonly sourceKey: string;
  readonly search: InstalledSearch;
  readonly index: EnsureResult;
  /** A chunked table's hnsw index of the recorded model's chunks (undefined: not chunked, or EMBEDSYNC_INDEX=none). */
  readonly chunkIndex?: ChunkIndexBuild | undefined;
}

/** After the plain migrate: (re)installs the search functions and builds the index when it is due. */
export async function finishMigrate(config: Config, model: Pick<ModelInfo, 'dimensions'>): Promise<FinishResult> {
  const client = createClient({ databaseUrl: config.databaseUrl, applicationName: 'embedsync-migrate' });
  await client.connect();
  try {
    const info = await inspectSource(client, config.source);
    // The chunk index first (CONCURRENTLY, outside the lock): the chunk search functions use it once it is there.
    const policy = indexPolicyOf(config.source);
    const state = info.sql.chunking ? await readModelState(client, info.sql.sourceKey) : undefined;
    const chunkIndex = state ? await ensureChunkIndex(client, info.sql, state, policy.kind, policy.maintenanceWorkMem) : undefined;
    // Under the migrate lock: two migrates replacing the same functions at once fail with "tuple concurrently
    // updated". The index build has its own lock (and must not hold this one: it waits for other transactions).
    await takeMigrateLock(client);
    let search: InstalledSearch;
    try {
      search = await installSearchFunctions(client, info.sql);
    } finally {
      await releaseMigrateLock(client);
    }
    const index = await ensureIndex(client, info.sql, config.source.embeddingColumn, policy, { dimensions: model.dimensions, exact: true });
    return { sourceKey: info.sql.sourceKey, search, index, chunkIndex };
  } finally {
    await client.end();
  }
}
