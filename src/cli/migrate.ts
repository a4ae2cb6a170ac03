// `embedsync migrate`: installs or upgrades the schema for the configured source and model, then enqueues
// every unsynced row (the enqueue pass), with a progress bar on a terminal. The work is
// src/migration/ (migrateModel, migrate, finishMigrate); this parses the flags and prints what each did.
import { parseArgs } from 'node:util';
import { checkSettings, finishMigrate, migrate } from '../migration/migrate.ts';
import { oneTable, UsageError, type Command } from './context.ts';
import { recordedModelName, SettingsChangedError } from '../db/source-settings.ts';
import { finishLines, migrateLines, modelMigrationLines } from './migrate-report.ts';

const MIGRATE_FLAGS = {
  'dry-run': { type: 'boolean', default: false },
  'in-place': { type: 'boolean', default: false },
  abort: { type: 'boolean', default: false },
  'update-settings': { type: 'boolean', default: false },
} as const;

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
    changed = await checkSettings(config, update || flags['dry-run'] || flags.abort);
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
  // A dimension change (shadow columns or --in-place), --dry-run and --abort: see migration/model-migration.ts.
  const { migrateModel } = await import('../migration/model-migration.ts');
  let pre;
  try {
    pre = await migrateModel({
      config, encoder, dryRun: flags['dry-run'], inPlace: flags['in-place'], abort: flags.abort, progress: ctx.stderr, signal: ctx.signal,
      updateSettings: update,
    });
  } finally {
    await encoder.close();
  }
  const preLines = modelMigrationLines(config, pre);
  if (pre.handled) {
    ctx.stdout.write(`${[...settingsLines, ...preLines].join('\n')}\n`);
    return 0;
  }
  const r = await migrate({ config, model, progress: ctx.stderr, signal: ctx.signal, updateSettings: update });
  const lines = [
    ...settingsLines,
    ...preLines,
    ...migrateLines(config, model, r),
    ...finishLines(await finishMigrate(config, model)),
  ];
  for (const w of r.warnings) ctx.stderr.write(`warning: ${w}\n`);
  ctx.stdout.write(`${lines.join('\n')}\n`);
  return 0;
};
