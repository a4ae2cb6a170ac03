// `embedsync migrate`: installs or upgrades the schema for the configured source and model, then enqueues
// every row whose embedding is missing or stale (the backfill), with a progress bar on a terminal.
import { parseArgs } from 'node:util';
import type { Config } from '../config/index.ts';
import type { ModelInfo } from '../encoder/types.ts';
import { migrateSchema, type MigrateResult } from '../migration/schema-install.ts';
import { createClient } from '../db/pool.ts';
import { loadSql, renderSql } from '../db/sql-template.ts';
import { enqueueStale } from '../queue/sweep.ts';
import { oneTable, UsageError, type Command, type Output } from './context.ts';
import { progressBar } from '../lib/progress-bar.ts';
import { checkRecordedSettings, recordedModelName, recordOf, SettingsChangedError } from '../db/source-settings.ts';

export interface MigrateOptions {
  readonly config: Config;
  readonly model: Pick<ModelInfo, 'name' | 'checksum' | 'dimensions'>;
  /** Where the progress bar goes (drawn only on a TTY). */
  readonly progress?: Output;
  readonly signal?: AbortSignal;
  /** Record configured table settings that differ from the recorded ones (otherwise refused). */
  readonly updateSettings?: boolean;
}

/** Backfills that enqueue at least this many rows refresh the queue's planner statistics. */
const ANALYZE_AFTER_ROWS = 1000;

export interface MigrateSummary extends MigrateResult {
  readonly scanned: number;
  readonly enqueued: number;
}

export async function migrate(o: MigrateOptions): Promise<MigrateSummary> {
  const client = createClient({ databaseUrl: o.config.databaseUrl, applicationName: 'embedsync-migrate' });
  await client.connect();
  try {
    const result = await migrateSchema(client, o.config.source, o.model, {
      record: recordOf(o.config.source, o.config.model.model, o.model), updateSettings: o.updateSettings ?? false,
    });
    const total = Number((await client.query<{ n: string }>(renderSql('row-count', result.source.sql))).rows[0]!.n);
    const bar = progressBar(o.progress ?? { write: () => true }, 'backfill');
    const r = await enqueueStale(client, result.source.sql, o.model.checksum, {
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: (p) => bar.update(p.scanned, total),
    });
    bar.finish();
    // Measured on 100k queued rows without fresh statistics: claims 25 ms instead of 7.5 ms, the daemon 30% slower.
    if (r.enqueued >= ANALYZE_AFTER_ROWS) await client.query(loadSql('queue-analyze'));
    return { ...result, ...r };
  } finally {
    await client.end();
  }
}

const MIGRATE_FLAGS = {
  'dry-run': { type: 'boolean', default: false },
  'in-place': { type: 'boolean', default: false },
  abort: { type: 'boolean', default: false },
  'update-settings': { type: 'boolean', default: false },
} as const;

/** Refuses, before anything changes, table settings that differ from the ones migrate recorded (unless updating). */
async function settingsCheck(config: Config, update: boolean): Promise<string[]> {
  const client = createClient({ databaseUrl: config.databaseUrl, applicationName: 'embedsync-migrate' });
  await client.connect();
  try {
    return await checkRecordedSettings(client, config.source, update);
  } finally {
    await client.end();
  }
}

export const migrateCommand: Command = async (ctx) => {
  let flags;
  try {
    flags = parseArgs({ args: [...ctx.argv], options: MIGRATE_FLAGS, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: embedsync migrate [--dry-run] [--in-place] [--abort] [--update-settings]`);
  }
  const configured = oneTable(ctx.config(), 'migrate');
  // The model is recorded for daemons serving every table, which may run elsewhere: a folder as an absolute path.
  const config = { ...configured, model: { ...configured.model, model: recordedModelName(configured.model.model, ctx.cwd) } };
  const update = flags['update-settings'];
  // A dry run says what differs; the real run refuses it unless --update-settings.
  let changed: string[];
  try {
    changed = await settingsCheck(config, update || flags['dry-run'] || flags.abort);
  } catch (err) {
    if (err instanceof SettingsChangedError) throw new UsageError(err.message);
    throw err;
  }
  const settingsLines = changed.map((d) => flags['dry-run']
    ? `settings differ, ${d} (migrate refuses this without --update-settings)`
    : `recorded new setting ${d}`);
  const { createEncoder } = await import('../encoder/index.ts');
  // The model decides the column's dimension and the checksum that marks its vectors.
  const encoder = await createEncoder(config.model, { progress: ctx.stderr, cwd: ctx.cwd, signal: ctx.signal });
  const model = encoder.info;
  // A dimension change (shadow columns or --in-place), --dry-run and --abort: see migrate-model.ts.
  const { migrateModel, finishMigrate } = await import('./migrate-model.ts');
  let pre;
  try {
    pre = await migrateModel({
      config, encoder, dryRun: flags['dry-run'], inPlace: flags['in-place'], abort: flags.abort, progress: ctx.stderr, signal: ctx.signal,
      updateSettings: update,
    });
  } finally {
    await encoder.close();
  }
  if (pre.handled) {
    ctx.stdout.write(`${[...settingsLines, ...pre.lines].join('\n')}\n`);
    return 0;
  }
  const r = await migrate({ config, model, progress: ctx.stderr, signal: ctx.signal, updateSettings: update });
  const lines = [
    ...settingsLines,
    ...pre.lines,
    r.applied.length ? `applied ${r.applied.join(', ')}` : 'schema embedsync up to date',
    r.addedColumns.length ? `added ${r.addedColumns.join(', ')} to ${r.source.sql.table} (${config.source.vectorType}(${model.dimensions}))` : `${r.source.sql.table} columns present`,
    `triggers installed on ${r.source.sql.table}; model ${model.name} (${model.checksum}, ${model.dimensions} dimensions)`,
    ...(r.previousChecksum ? [`model changed from ${r.previousChecksum}: existing vectors are stale and will be re-embedded`] : []),
    `backfill: ${r.scanned} rows scanned, ${r.enqueued} enqueued`,
    `full text (${config.source.textSearchConfig}): ${r.fullText.rebuilt ? `${r.fullText.rebuilt}, ` : ''}${r.fullText.filled} rows filled` +
      (r.fullText.indexBuilt ? ', GIN index built' : ''),
    ...await finishMigrate(config, model),
  ];
  for (const w of r.warnings) ctx.stderr.write(`warning: ${w}\n`);
  ctx.stdout.write(`${lines.join('\n')}\n`);
  return 0;
};
