// What `embedsync migrate` prints: the lines of each result of src/migration/ (the plan of --dry-run, a model
// change, the plain migrate, the search functions and index).
import type { Config } from '../config/index.ts';
import type { ModelInfo } from '../encoder/types.ts';
import type { EnsureResult } from '../db/vector-index.ts';
import type { FinishResult, MigrateSummary } from '../migration/migrate.ts';
import type { MigrationPlan, ModelMigrationOutcome, PlannedIndex } from '../migration/model-migration.ts';

/** The lines of a model change's outcome (the plan, under --dry-run). */
export function modelMigrationLines(config: Config, o: ModelMigrationOutcome): string[] {
  switch (o.kind) {
    case 'planned': return planLines(config, o.plan);
    case 'aborted': return [o.model !== undefined ? `migration to ${o.model} aborted; shadow columns dropped` : 'no migration under way'];
    case 'in-place-reembed':
      return [`in place: ${o.sourceKey} now takes ${o.model} vectors; rows embedded by ` +
        `${o.fromChecksum} are stale and skipped by search until the daemon has re-embedded them`, nextSteps(config, o.fromChecksum)];
    case 'in-place-dimension': {
      const lines = [`in place: dropped the vector(${o.fromDimensions}) column and its index; rows are re-embedded from scratch`];
      return o.fromChecksum !== undefined ? [...lines, nextSteps(config, o.fromChecksum)] : lines;
    }
    case 'shadow': {
      const { change, shadow: r } = o;
      const what = change.kind === 'retype'
        ? `${change.from} -> ${change.to} (${r.to.dimensions} dimensions, model ${r.to.checksum} unchanged; ${r.copied} vectors copied)`
        : `${r.from.dimensions} -> ${r.to.dimensions} dimensions (${r.from.checksum} -> ${r.to.checksum})`;
      return [
        `model ${o.model}: ${what}, shadow columns swapped in` +
          (change.resumeAfter ? `, resumed after step ${change.resumeAfter}` : ''),
        ...r.steps.map((s) => `  ${s.step.padEnd(10)} ${s.seconds.toFixed(2)}s`),
        `encoded ${r.encoded} rows in ${r.encodeSeconds.toFixed(1)}s; ` +
          `${r.requeued} rows changed during the swap or refused were queued for the daemon`,
        ...(r.refused.length ? [refusedLine(r.refused)] : []),
        ...r.buried.map((b) => `row ${b.id} dead-lettered: ${b.error}; the other rows were encoded`),
        ...(r.index ? [indexLine({ ...r.index, name: o.indexName })] : []),
        nextSteps(config, r.from.checksum === r.to.checksum ? undefined : r.from.checksum),
      ];
    }
    case 'none': return [];
  }
}

/** Rows the new model refused in the backfill: the first few with their reasons. */
function refusedLine(rows: readonly { readonly id: string; readonly error: string }[]): string {
  const shown = rows.slice(0, 3).map((r) => `id ${r.id}: ${r.error}`).join('; ');
  return `${rows.length} row${rows.length === 1 ? '' : 's'} refused by the new model (${shown}${rows.length > 3 ? '; …' : ''}): ` +
    'left without a vector; the daemons retry them and dead-letter them with the reason';
}

/** Where the PL/pgSQL function serves but the server could run the compiled one (docs/sync.md). */
const COMPILED_AVAILABLE = 'embedsync_capture is available on this server: CREATE EXTENSION embedsync_capture (as a superuser) ' +
  'and migrate again, and text UPDATEs cost less to capture (docs/sync.md#the-compiled-update-function)';

/** The lines of the plain migrate (after the model change's own lines). */
export function migrateLines(config: Config, model: Pick<ModelInfo, 'name' | 'checksum' | 'dimensions'>, r: MigrateSummary): string[] {
  return [
    r.applied.length ? `applied ${r.applied.join(', ')}` : 'schema embedsync up to date',
    r.addedColumns.length
      ? `added ${r.addedColumns.join(', ')} to ${r.source.sql.table} (${config.source.vectorType}(${model.dimensions}))`
      : `${r.source.sql.table} columns present`,
    (r.capture === 'logical'
      ? `logical capture on ${r.source.sql.table}: inserts and updates read from the WAL (DELETE and TRUNCATE triggers); `
      : `triggers installed on ${r.source.sql.table} ` +
        `(${r.insertCapture === 'watch' ? 'inserts: no trigger, the daemons watch the new-rows index' : 'inserts: INSERT trigger'}, ` +
        `updates: ${r.updateFunction === 'compiled' ? 'compiled function (embedsync_capture)' : 'PL/pgSQL function'}); `) +
      `model ${model.name} (${model.checksum}, ${model.dimensions} dimensions)`,
    ...(r.capture === 'triggers' && r.compiledAvailable ? [COMPILED_AVAILABLE] : []),
    ...(r.previousChecksum ? [`model changed from ${r.previousChecksum}: existing vectors are stale and will be re-embedded`] : []),
    ...(r.retriedDeadLetters
      ? [`${r.retriedDeadLetters} dead letter${r.retriedDeadLetters === 1 ? '' : 's'} queued again for the new model`] : []),
    `enqueue: ${r.scanned} rows scanned, ${r.enqueued} enqueued`,
    `full text (${config.source.textSearchConfig}): ` +
      `${r.fullText.rebuilt ? `${r.fullText.rebuilt}, ` : ''}${r.fullText.filled} rows filled` +
      (r.fullText.indexBuilt ? ', GIN index built' : ''),
  ];
}

/** The lines of finishMigrate(): search functions and index. */
export function finishLines(r: FinishResult): string[] {
  const serves = r.search.defaultSource === r.sourceKey ? ''
    : ` (embedsync.similar_to, embedsync.search and embedsync.hybrid_search keep serving ${r.search.defaultSource})`;
  const chunks = r.chunkIndex?.built ? [`chunk index ${r.chunkIndex.name} built in ${r.chunkIndex.seconds.toFixed(2)}s`] : [];
  return [`search functions ${r.search.functions.join(', ')} installed${serves}`, indexLine(r.index), ...chunks];
}

/** What the operator does after a model change: daemons on the old model write nothing until restarted. */
export function nextSteps(config: Config, fromChecksum: string | undefined): string {
  return `next: restart every daemon serving ${config.source.table.schema}.${config.source.table.name} with ` +
    `EMBEDDING_MODEL=${config.model.model}; daemons still on ${fromChecksum ?? 'the previous model'} ` +
    'write nothing and answer /ready with 503 ' +
    '(EMBEDSYNC_EXIT_ON_MODEL_CHANGE=true makes them exit instead)';
}

export function indexLine(r: EnsureResult): string {
  const lists = r.lists ? `, lists ${r.lists}` : '';
  switch (r.action) {
    case 'build':
    case 'rebuild':
      return `index ${r.name} ${r.action === 'build' ? 'built' : 'rebuilt'} on ${r.rows} rows${lists} in ${r.buildSeconds!.toFixed(2)}s`;
    case 'drop': return `index dropped (${r.reason})`;
    case 'wait': return `no index yet: ${r.reason}`;
    case 'keep': return `index ${r.name ?? '(none)'} kept: ${r.reason}`;
  }
}

function planLines(config: Config, p: MigrationPlan): string[] {
  const { model, change } = p;
  const t = p.sourceKey;
  const eta = p.rows > 0
    ? `~${formatSeconds(p.rows / p.rate)} at ${p.rate.toFixed(0)} rows/s (measured on this machine with ${model.name})`
    : 'nothing to encode';
  const idx = indexText(p.index);
  const head = `plan for ${t}, model ${model.name} (${model.checksum}, ${model.dimensions} dimensions):`;
  const shadowSteps = () => [
    '  1 add shadow columns (metadata only)', `  2 backfill ${p.rows} of ${p.total} rows: ${eta}`,
    `  3 build index on the shadow column: ${idx}`, '  4 swap columns in one short transaction, drop the old column and index',
    '  searches keep answering from the current column until the swap',
    `  then restart every daemon of ${t} with EMBEDDING_MODEL=${config.model.model}`];
  switch (change.kind) {
    case 'setup':
      return [head, `  set up schema embedsync, add vector(${model.dimensions}) columns and triggers`,
        `  enqueue ${p.rows} of ${p.total} rows for the daemon: ${eta}`, `  index: ${idx}`];
    case 'none':
      return [head, '  model unchanged', `  ${p.rows} of ${p.total} rows missing or stale: ${eta}`, `  index: ${idx}`];
    case 'reembed':
      if (p.inPlace) {
        return [head,
          `  IN PLACE: same dimension, new checksum (was ${change.fromChecksum}): rows become stale, searches skip them until re-embedded`,
          `  the daemon re-embeds ${p.rows} of ${p.total} rows: ${eta}`];
      }
      return [head, `  same dimension, new checksum (was ${change.fromChecksum}), shadow migration` +
          (change.resumeAfter ? ` (resuming after step ${change.resumeAfter})` : ''), ...shadowSteps()];
    case 'retype':
      return [head, `  vector type ${change.from} -> ${change.to}, model unchanged, shadow migration` +
          (change.resumeAfter ? ` (resuming after step ${change.resumeAfter})` : ''),
        `  the current vectors are copied into ${change.to} shadow columns (cast by the database, no encoding); then:`, ...shadowSteps()];
    case 'dimension':
      if (p.inPlace) {
        return [head,
          `  IN PLACE: drop the vector(${change.fromDimensions}) column and its index (search returns nothing until re-embedded)`,
          `  add vector(${model.dimensions}); the daemon re-embeds ${p.total} rows: ${eta}`,
          `  index: ${idx} once embedded (embedsync index rebuild)`];
      }
      return [head, `  dimension change ${change.fromDimensions} -> ${model.dimensions}, shadow migration` +
          (change.resumeAfter ? ` (resuming after step ${change.resumeAfter})` : ''), ...shadowSteps()];
  }
}

function indexText(i: PlannedIndex): string {
  switch (i.kind) {
    case 'ivfflat': return `ivfflat, lists ${i.lists}`;
    case 'ivfflat-wait': return `none yet (ivfflat needs >= ${i.minRows} rows)`;
    default: return i.kind;
  }
}

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.ceil(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}min`;
  return `${(s / 3600).toFixed(1)}h`;
}
