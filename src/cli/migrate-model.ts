// The model-change half of `embedsync migrate`: --dry-run plans, --abort, --in-place, and the shadow
// migration for every model change, same dimension or not (with a progress bar and ETA), so search answers
// from the old vectors until the new ones are complete. The plain schema setup and the backfill enqueue stay
// in migrate.ts; finishMigrate() then installs the search functions and builds the index.
import type { Config } from '../config/index.ts';
import type { Encoder, ModelInfo } from '../encoder/types.ts';
import { releaseMigrateLock, takeMigrateLock } from '../db/migrate-lock.ts';
import { checkServerVersions } from '../db/server-versions.ts';
import { migrateSchema } from '../migration/schema-install.ts';
import { recordOf, recordSource } from '../db/source-settings.ts';
import { detectModelChange, rowsToEmbed, type Detected } from '../migration/plan.ts';
import { measureEncodeRate } from '../migration/encode-rate.ts';
import { dropVectorColumns } from '../migration/in-place.ts';
import { createClient } from '../db/pool.ts';
import { installSearchFunctions, type InstalledSearch } from '../db/search-functions.ts';
import { indexPolicyOf } from '../db/index-maintenance.ts';
import { abortShadowMigration } from '../migration/abort.ts';
import { MigrationConflictError } from '../migration/conflict.ts';
import { runShadowMigration, type FaultPoint, type ShadowMigrationResult } from '../migration/steps.ts';
import { checkIdColumn, inspectSource } from '../db/source-info.ts';
import { ensureIndex, ivfflatLists, vectorIndexName, type EnsureResult, type IndexPolicy } from '../db/vector-index.ts';
import { vectorTypeOid } from '../queue/queue.ts';
import type { Output } from './context.ts';
import { progressBar } from '../lib/progress-bar.ts';

export function indexPolicy(config: Config): IndexPolicy {
  return indexPolicyOf(config.source);
}

export interface ModelMigrationOptions {
  readonly config: Config;
  /** The configured (new) model, open: the shadow backfill and the dry-run's rate measurement use it. */
  readonly encoder: Encoder;
  readonly dryRun?: boolean;
  readonly inPlace?: boolean;
  readonly abort?: boolean;
  readonly progress?: Output;
  readonly signal?: AbortSignal;
  readonly lockTimeoutMs?: number;
  readonly chunkSize?: number;
  /** Record configured table settings that differ from the recorded ones (migrate --update-settings). */
  readonly updateSettings?: boolean;
  /** Failure injection for tests: throw at a named point as a crash there would. */
  readonly fault?: (point: FaultPoint) => void | Promise<void>;
}

export interface ModelMigrationOutcome {
  /** true: the command is complete; false: go on with the plain migrate (and then finishMigrate). */
  readonly handled: boolean;
  readonly lines: readonly string[];
  readonly shadow?: ShadowMigrationResult;
}

export async function migrateModel(o: ModelMigrationOptions): Promise<ModelMigrationOutcome> {
  const { config, encoder } = o;
  const model = encoder.info;
  const client = createClient({ databaseUrl: config.databaseUrl, applicationName: 'embedsync-migrate' });
  await client.connect();
  try {
    // A server the schema cannot live on is refused before anything, --dry-run included (it says which version is needed).
    await checkServerVersions(client);
    if (o.dryRun) return { handled: true, lines: await plan(client, o, await detectModelChange(client, config.source, model)) };
    // Every path that changes columns runs under the migrate lock, and looks at the state only once it holds
    // it: --abort or --in-place must never drop shadow columns under a migration another migrate is running.
    await takeMigrateLock(client);
    try {
      return await changeModel(client, o, await detectModelChange(client, config.source, model));
    } finally {
      await releaseMigrateLock(client);
    }
  } finally {
    await client.end();
  }
}

/** The paths of a model change, with the migrate lock held. */
async function changeModel(client: import('pg').Client, o: ModelMigrationOptions, d: Detected): Promise<ModelMigrationOutcome> {
  const { config, encoder } = o;
  const model = encoder.info;
  if (o.abort) {
    const done = d.state ? await abortShadowMigration(client, config.source, d.info.sql, d.state, o.lockTimeoutMs) : false;
    return { handled: true, lines: [done ? `migration to ${d.state!.migration!.model} aborted; shadow columns dropped` : 'no migration under way'] };
  }
  // Before --in-place drops anything (migrateSchema checks it again for the plain path).
  await checkIdColumn(client, config.source);
  if (d.change.kind === 'reembed' && o.inPlace) {
    // The plain migrate records the new model: rows become stale and the daemon re-embeds them. An unfinished
    // shadow migration to it goes first, or daemons of the new model would go on filling its columns.
    if (d.state?.migration) await abortShadowMigration(client, config.source, d.info.sql, d.state, o.lockTimeoutMs);
    return { handled: false, lines: [`in place: ${d.info.sql.sourceKey} now takes ${model.name} vectors; rows embedded by ` +
      `${d.change.fromChecksum} are stale and skipped by search until the daemon has re-embedded them`, nextSteps(config, d.change.fromChecksum)] };
  }
  if (d.change.kind === 'retype' && o.inPlace) {
    throw new MigrationConflictError(`switching ${d.info.sql.sourceKey} from ${d.change.from} to ${d.change.to} runs as a shadow migration ` +
      '(the vectors are copied, not encoded again, and search answers throughout): run migrate without --in-place');
  }
  if (d.change.kind !== 'dimension' && d.change.kind !== 'reembed' && d.change.kind !== 'retype') return { handled: false, lines: [] };
  if (d.change.kind === 'dimension' && (o.inPlace || !d.state)) {
    // Without a recorded model there is nothing to serve reads from meanwhile: in place is the only way.
    await dropVectorColumns(client, config.source, d.info);
    const lines = [`in place: dropped the vector(${d.change.fromDimensions}) column and its index; rows are re-embedded from scratch`];
    return { handled: false, lines: d.state ? [...lines, nextSteps(config, d.state.checksum)] : lines };
  }
  if (!d.state) return { handled: false, lines: [] };
  // Schema upgrades and triggers, keeping the recorded (old) model until the swap.
  await migrateSchema(client, config.source, { name: d.state.model, checksum: d.state.checksum, dimensions: d.state.dimensions },
    { updateSettings: o.updateSettings ?? false });
  const bar = progressBar(o.progress ?? { write: () => true }, 'backfill');
  const r = await runShadowMigration({
    client, source: config.source, sql: d.info.sql, encoder, vectorOid: await vectorTypeOid(client), policy: indexPolicy(config),
    onBackfill: (p) => bar.update(p.scanned, p.total),
    onStep: (step) => { if (step === 'backfilled') bar.finish(); },
    ...pick(o, 'signal', 'lockTimeoutMs', 'chunkSize', 'fault'),
  });
  bar.finish();
  // The table now takes the new model: daemons serving every table load it from this record.
  await recordSource(client, recordOf(config.source, config.model.model, model));
  const what = d.change.kind === 'retype'
    ? `${d.change.from} -> ${d.change.to} (${r.to.dimensions} dimensions, model ${r.to.checksum} unchanged; ${r.copied} vectors copied)`
    : `${r.from.dimensions} -> ${r.to.dimensions} dimensions (${r.from.checksum} -> ${r.to.checksum})`;
  const lines = [
    `model ${model.name}: ${what}, shadow columns swapped in` +
      (d.change.resumeAfter ? `, resumed after step ${d.change.resumeAfter}` : ''),
    ...r.steps.map((s) => `  ${s.step.padEnd(10)} ${s.seconds.toFixed(2)}s`),
    `encoded ${r.encoded} rows in ${r.encodeSeconds.toFixed(1)}s; ${r.requeued} rows changed during the swap were queued for the daemon`,
    // Built on the shadow column; it carries the usual name since the swap.
    ...(r.index ? [indexLine({ ...r.index, name: vectorIndexName(d.info.sql, config.source.embeddingColumn) })] : []),
    nextSteps(config, r.from.checksum === r.to.checksum ? undefined : r.from.checksum),
  ];
  return { handled: true, lines, shadow: r };
}

/** After the plain migrate: (re)installs the search functions and builds the index when it is due. */
export async function finishMigrate(config: Config, model: Pick<ModelInfo, 'dimensions'>): Promise<string[]> {
  const client = createClient({ databaseUrl: config.databaseUrl, applicationName: 'embedsync-migrate' });
  await client.connect();
  try {
    const info = await inspectSource(client, config.source);
    // Under the migrate lock: two migrates replacing the same functions at once fail with "tuple concurrently
    // updated". The index build has its own lock (and must not hold this one: it waits for other transactions).
    await takeMigrateLock(client);
    let fns: InstalledSearch;
    try {
      fns = await installSearchFunctions(client, info.sql);
    } finally {
      await releaseMigrateLock(client);
    }
    const r = await ensureIndex(client, info.sql, config.source.embeddingColumn, indexPolicy(config), { dimensions: model.dimensions, exact: true });
    const serves = fns.defaultSource === info.sql.sourceKey ? '' : ` (embedsync.similar_to, embedsync.search and embedsync.hybrid_search keep serving ${fns.defaultSource})`;
    return [`search functions ${fns.functions.join(', ')} installed${serves}`, indexLine(r)];
  } finally {
    await client.end();
  }
}

/** What the operator does after a model change: daemons on the old model write nothing until restarted. */
export function nextSteps(config: Config, fromChecksum: string | undefined): string {
  return `next: restart every daemon serving ${config.source.table.schema}.${config.source.table.name} with ` +
    `EMBEDDING_MODEL=${config.model.model}; daemons still on ${fromChecksum ?? 'the previous model'} write nothing and answer /ready with 503 ` +
    '(EMBEDSYNC_EXIT_ON_MODEL_CHANGE=true makes them exit instead)';
}

export function indexLine(r: EnsureResult): string {
  const lists = r.lists ? `, lists ${r.lists}` : '';
  switch (r.action) {
    case 'build':
    case 'rebuild': return `index ${r.name} ${r.action === 'build' ? 'built' : 'rebuilt'} on ${r.rows} rows${lists} in ${r.buildSeconds!.toFixed(2)}s`;
    case 'drop': return `index dropped (${r.reason})`;
    case 'wait': return `no index yet: ${r.reason}`;
    case 'keep': return `index ${r.name ?? '(none)'} kept: ${r.reason}`;
  }
}

async function plan(client: import('pg').Client, o: ModelMigrationOptions, d: Detected): Promise<string[]> {
  const model = o.encoder.info;
  const t = d.info.sql.sourceKey;
  const shadow = (d.change.kind === 'dimension' || d.change.kind === 'reembed' || d.change.kind === 'retype') && !o.inPlace;
  const todo = d.change.kind === 'none' && !d.state ? { rows: 0, total: 0 } : await rowsToEmbed(client, o.config.source, d.info, model, shadow);
  const rate = todo.rows > 0 ? await measureEncodeRate(client, d.info, o.encoder) : 0;
  const eta = todo.rows > 0 ? `~${formatSeconds(todo.rows / rate)} at ${rate.toFixed(0)} rows/s (measured on this machine with ${model.name})` : 'nothing to encode';
  const policy = indexPolicy(o.config);
  const idx = policy.kind === 'ivfflat'
    ? (todo.total >= policy.minRows ? `ivfflat, lists ${ivfflatLists(todo.total)}` : `none yet (ivfflat needs >= ${policy.minRows} rows)`)
    : policy.kind;
  const head = `plan for ${t}, model ${model.name} (${model.checksum}, ${model.dimensions} dimensions):`;
  const shadowSteps = () => [
    '  1 add shadow columns (metadata only)', `  2 backfill ${todo.rows} of ${todo.total} rows: ${eta}`,
    `  3 build index on the shadow column: ${idx}`, '  4 swap columns in one short transaction, drop the old column and index',
    '  searches keep answering from the current column until the swap',
    `  then restart every daemon of ${t} with EMBEDDING_MODEL=${o.config.model.model}`];
  switch (d.change.kind) {
    case 'setup':
      return [head, `  set up schema embedsync, add vector(${model.dimensions}) columns and triggers`, `  enqueue ${todo.rows} of ${todo.total} rows for the daemon: ${eta}`, `  index: ${idx}`];
    case 'none':
      return [head, '  model unchanged', `  ${todo.rows} of ${todo.total} rows missing or stale: ${eta}`, `  index: ${idx}`];
    case 'reembed':
      if (o.inPlace) {
        return [head, `  IN PLACE: same dimension, new checksum (was ${d.change.fromChecksum}): rows become stale, searches skip them until re-embedded`,
          `  the daemon re-embeds ${todo.rows} of ${todo.total} rows: ${eta}`];
      }
      return [head, `  same dimension, new checksum (was ${d.change.fromChecksum}), shadow migration` +
          (d.change.resumeAfter ? ` (resuming after step ${d.change.resumeAfter})` : ''), ...shadowSteps()];
    case 'retype':
      return [head, `  vector type ${d.change.from} -> ${d.change.to}, model unchanged, shadow migration` +
          (d.change.resumeAfter ? ` (resuming after step ${d.change.resumeAfter})` : ''),
        `  the current vectors are copied into ${d.change.to} shadow columns (cast by the database, no encoding); then:`, ...shadowSteps()];
    case 'dimension':
      if (o.inPlace) {
        return [head, `  IN PLACE: drop the vector(${d.change.fromDimensions}) column and its index (search returns nothing until re-embedded)`,
          `  add vector(${model.dimensions}); the daemon re-embeds ${todo.total} rows: ${eta}`, `  index: ${idx} once embedded (embedsync index rebuild)`];
      }
      return [head, `  dimension change ${d.change.fromDimensions} -> ${model.dimensions}, shadow migration` +
          (d.change.resumeAfter ? ` (resuming after step ${d.change.resumeAfter})` : ''), ...shadowSteps()];
  }
}

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.ceil(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}min`;
  return `${(s / 3600).toFixed(1)}h`;
}

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
