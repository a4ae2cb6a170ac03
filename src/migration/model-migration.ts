// The model-change half of `embedsync migrate`: --dry-run plans, --abort, --in-place, and the shadow
// migration for every model change, same dimension or not, so search answers from the old vectors until the
// new ones are complete. The plain schema setup and the enqueue pass are migrate() (migrate.ts);
// finishMigrate() then installs the search functions and builds the index. Each returns what it did; the
// command (src/cli/migrate.ts) prints it.
import type { Config, IndexKind } from '../config/index.ts';
import type { Encoder } from '../encoder/types.ts';
import { releaseMigrateLock, takeMigrateLock } from '../db/migrate-lock.ts';
import { checkServerVersions } from '../db/server-versions.ts';
import { migrateSchema } from './schema-install.ts';
import { recordOf, recordSource } from '../db/source-settings.ts';
import { detectModelChange, rowsToEmbed, type Detected, type ModelChange } from './plan.ts';
import { measureEncodeRate } from './encode-rate.ts';
import { dropVectorColumns } from './in-place.ts';
import { createClient } from '../db/pool.ts';
import { indexPolicyOf } from '../db/index-maintenance.ts';
import { abortShadowMigration } from './abort.ts';
import { MigrationConflictError } from './conflict.ts';
import { runShadowMigration, type FaultPoint, type ShadowMigrationResult } from './steps.ts';
import { checkIdColumn } from '../db/source-info.ts';
import { ivfflatLists, vectorIndexName } from '../db/vector-index.ts';
import { vectorTypeOid } from '../queue/queue.ts';
import { progressBar, type ProgressOutput } from '../lib/progress-bar.ts';
import { ALONE_ENDS } from './backfill-suspects.ts';

export interface ModelMigrationOptions {
  readonly config: Config;
  /** The configured (new) model, open: the shadow backfill and the dry-run's rate measurement use it. */
  readonly encoder: Encoder;
  readonly dryRun?: boolean;
  readonly inPlace?: boolean;
  readonly abort?: boolean;
  /** Where the progress bar goes (drawn only on a TTY). */
  readonly progress?: ProgressOutput;
  readonly signal?: AbortSignal;
  readonly lockTimeoutMs?: number;
  readonly chunkSize?: number;
  /** Record configured table settings that differ from the recorded ones (migrate --update-settings). */
  readonly updateSettings?: boolean;
  /** Failure injection for tests: throw at a named point as a crash there would. */
  readonly fault?: (point: FaultPoint) => void | Promise<void>;
}

/** What --dry-run found: the change, the rows to encode and the index the policy would build. */
export interface MigrationPlan {
  readonly sourceKey: string;
  readonly model: Encoder['info'];
  readonly change: ModelChange;
  readonly inPlace: boolean;
  /** Rows the new model has to encode, of `total` rows. */
  readonly rows: number;
  readonly total: number;
  /** Rows per second the new model encodes on this machine (measured only when there are rows to encode). */
  readonly rate: number;
  readonly index: PlannedIndex;
}

export type PlannedIndex =
  | { readonly kind: 'ivfflat'; readonly lists: number }
  /** ivfflat, but too few rows to train it yet. */
  | { readonly kind: 'ivfflat-wait'; readonly minRows: number }
  | { readonly kind: Exclude<IndexKind, 'ivfflat'> };

/**
 * `handled`: the command is complete; otherwise migrate() and finishMigrate() go on with the plain migrate.
 * Each kind is one path of a model change.
 */
export type ModelMigrationOutcome =
  | { readonly kind: 'planned'; readonly handled: true; readonly plan: MigrationPlan }
  /** --abort: `model` is the migration's target, undefined when none was under way. */
  | { readonly kind: 'aborted'; readonly handled: true; readonly model: string | undefined }
  /** --in-place, same dimension: the plain migrate records the new model and the daemon re-embeds. */
  | { readonly kind: 'in-place-reembed'; readonly handled: false; readonly sourceKey: string; readonly model: string;
      readonly fromChecksum: string }
  /** A dimension change in place: the vector columns were dropped; `fromChecksum` the recorded model, if any. */
  | { readonly kind: 'in-place-dimension'; readonly handled: false; readonly fromDimensions: number;
      readonly fromChecksum: string | undefined }
  | { readonly kind: 'shadow'; readonly handled: true; readonly model: string;
      readonly change: Extract<ModelChange, { resumeAfter: string | undefined }>;
      readonly shadow: ShadowMigrationResult; readonly indexName: string }
  /** No model change: the plain migrate does everything. */
  | { readonly kind: 'none'; readonly handled: false };

export async function migrateModel(o: ModelMigrationOptions): Promise<ModelMigrationOutcome> {
  const { config, encoder } = o;
  const model = encoder.info;
  const client = createClient({ databaseUrl: config.databaseUrl, applicationName: 'embedsync-migrate' });
  await client.connect();
  try {
    // A server the schema cannot live on is refused before anything, --dry-run included (it says which version is needed).
    await checkServerVersions(client);
    if (o.dryRun) {
      return { kind: 'planned', handled: true, plan: await plan(client, o, await detectModelChange(client, config.source, model)) };
    }
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
    return { kind: 'aborted', handled: true, model: done ? d.state!.migration!.model : undefined };
  }
  // Before --in-place drops anything (migrateSchema checks it again for the plain path).
  await checkIdColumn(client, config.source);
  if (d.change.kind === 'reembed' && o.inPlace) {
    // The plain migrate records the new model: rows become stale and the daemon re-embeds them. An unfinished
    // shadow migration to it goes first, or daemons of the new model would go on filling its columns.
    if (d.state?.migration) await abortShadowMigration(client, config.source, d.info.sql, d.state, o.lockTimeoutMs);
    return {
      kind: 'in-place-reembed', handled: false, sourceKey: d.info.sql.sourceKey, model: model.name, fromChecksum: d.change.fromChecksum,
    };
  }
  if (d.change.kind === 'retype' && o.inPlace) {
    throw new MigrationConflictError(`switching ${d.info.sql.sourceKey} from ${d.change.from} to ${d.change.to} runs as a shadow ` +
      'migration (the vectors are copied, not encoded again, and search answers throughout): run migrate without --in-place');
  }
  if (d.change.kind !== 'dimension' && d.change.kind !== 'reembed' && d.change.kind !== 'retype') return { kind: 'none', handled: false };
  if (d.change.kind === 'dimension' && (o.inPlace || !d.state)) {
    // Without a recorded model there is nothing to serve reads from meanwhile: in place is the only way.
    await dropVectorColumns(client, config.source, d.info);
    return { kind: 'in-place-dimension', handled: false, fromDimensions: d.change.fromDimensions, fromChecksum: d.state?.checksum };
  }
  if (!d.state) return { kind: 'none', handled: false };
  // Schema upgrades and triggers, keeping the recorded (old) model until the swap.
  await migrateSchema(client, config.source, { name: d.state.model, checksum: d.state.checksum, dimensions: d.state.dimensions },
    { updateSettings: o.updateSettings ?? false });
  const bar = progressBar(o.progress, 'backfill');
  const r = await runShadowMigration({
    client, source: config.source, sql: d.info.sql, encoder, vectorOid: await vectorTypeOid(client), policy: indexPolicyOf(config.source),
    onBackfill: (p) => bar.update(p.scanned, p.total),
    // Runs that end while encoding a row die without a word: the next one says what it is doing about it.
    onSuspects: (ids, ends) => o.progress?.write(suspectsNotice(ids, ends)),
    onStep: (step) => { if (step === 'backfilled') bar.finish(); },
    ...pick(o, 'signal', 'lockTimeoutMs', 'chunkSize', 'fault'),
  });
  bar.finish();
  // The table now takes the new model: daemons serving every table load it from this record.
  await recordSource(client, recordOf(config.source, config.model.model, model));
  // Built on the shadow column; it carries the usual name since the swap.
  return {
    kind: 'shadow', handled: true, model: model.name, change: d.change, shadow: r,
    indexName: vectorIndexName(d.info.sql, config.source.embeddingColumn),
  };
}

/** What a run says when the last one ended while encoding rows (docs/model-changes.md). */
export function suspectsNotice(ids: readonly string[], ends: number): string {
  const what = ids.length === 1 ? `row ${ids[0]} alone` : `${ids.length} rows`;
  return `migrate: a run ended while encoding ${what} (${ends} time${ends === 1 ? '' : 's'}): ` +
    (ids.length > 1 ? 'encoding them in halves to find the row that ends it'
      : ends < ALONE_ENDS ? 'trying it alone once more' : 'dead-lettering it and encoding the rest') +
    ' (docs/model-changes.md#bad-rows-during-the-backfill)\n';
}

async function plan(client: import('pg').Client, o: ModelMigrationOptions, d: Detected): Promise<MigrationPlan> {
  const model = o.encoder.info;
  const inPlace = o.inPlace ?? false;
  const shadow = (d.change.kind === 'dimension' || d.change.kind === 'reembed' || d.change.kind === 'retype') && !inPlace;
  const todo = d.change.kind === 'none' && !d.state ? { rows: 0, total: 0 }
    : await rowsToEmbed(client, o.config.source, d.info, model, shadow);
  const rate = todo.rows > 0 ? await measureEncodeRate(client, d.info, o.encoder) : 0;
  const policy = indexPolicyOf(o.config.source);
  const index: PlannedIndex = policy.kind === 'ivfflat'
    ? (todo.total >= policy.minRows ? { kind: 'ivfflat', lists: ivfflatLists(todo.total) }
      : { kind: 'ivfflat-wait', minRows: policy.minRows })
    : { kind: policy.kind };
  return { sourceKey: d.info.sql.sourceKey, model, change: d.change, inPlace, rows: todo.rows, total: todo.total, rate, index };
}

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
