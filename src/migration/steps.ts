// A model change — a new dimension (e.g. 384 -> 1024) or new weights of the same dimension — without taking
// search offline: the old vectors answer every query until the new ones are complete, then one short swap.
// A sequence of resumable steps:
//
//   started     target model recorded on the state row
//   columns     <embedding>_next vector(N'), <checksum>_next, <text_hash>_next added (metadata-only ALTER,
//               shadow-columns.ts)
//   backfilled  every row encoded by the new model into the shadow columns, in key-ordered chunks (backfill.ts)
//   indexed     the vector index built CONCURRENTLY on the shadow column (when the policy wants one)
//   swapped     one short transaction: old columns and index dropped, shadow ones renamed into their place,
//               state switched to the new model (swap.ts)
//   (done)      rows that changed during the swap re-enqueued, migration fields cleared
//
// migration_step records the last step finished, in the same transaction as the step's own changes where
// there are any, so a crash or Ctrl-C anywhere resumes at the step that did not finish. Readers keep using
// the main column throughout; the only ACCESS EXCLUSIVE locks are the two metadata-only ALTERs, each
// waiting at most lockTimeoutMs (withShortLocks). Daemons running the new model write the shadow columns
// meanwhile (src/queue/write-target.ts); daemons still on the old model keep the old column current until
// the swap, after which they write nothing (the write statement refuses them, migrations/005_model_guard.sql)
// and report the mismatch (src/sync/model-watch.ts).
import type pg from 'pg';
import type { SourceConfig, VectorType } from '../config/index.ts';
import { mainColumns, nextColumns, withColumns, type MigrationStep } from '../db/model-state.ts';
import { withShortLocks } from '../db/short-lock.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { beginMigration, readModelState, setMigrationStep } from '../db/state-repository.ts';
import { countVectors, ensureIndex, findVectorIndexes, vectorIndexName, type EnsureResult, type IndexPolicy } from '../db/vector-index.ts';
import type { Encoder } from '../encoder/types.ts';
import { backfillShadow, type BackfillProgress, type RefusedRow } from './backfill.ts';
import { copyVectors } from './copy-vectors.ts';
import { MigrationConflictError } from './conflict.ts';
import { addShadowColumns } from './shadow-columns.ts';
import { finishMigration, swapColumns } from './swap.ts';
import { ensureChunkIndex } from '../db/chunk-index.ts';

export type { BackfillProgress } from './backfill.ts';
export { MigrationConflictError } from './conflict.ts';

/** Where a test can make the migration fail, as a crash there would (the hook throws). */
export const FAULT_POINTS = [
  'after-start', 'after-columns', 'mid-backfill', 'after-backfill', 'after-index', 'in-swap', 'after-swap',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export interface ShadowMigrationOptions {
  /** A dedicated connection (the migration holds session settings and the migrate lock on it). */
  readonly client: pg.Client;
  readonly source: SourceConfig;
  readonly sql: SourceSql;
  /** The new model. */
  readonly encoder: Encoder;
  readonly vectorOid: number;
  readonly policy: IndexPolicy;
  readonly lockTimeoutMs?: number;
  readonly chunkSize?: number;
  readonly signal?: AbortSignal;
  readonly onStep?: (step: MigrationStep | 'done', seconds: number) => void;
  readonly onBackfill?: (p: BackfillProgress) => void;
  readonly onSuspects?: (ids: readonly string[], ends: number) => void;
  readonly onLockRetry?: (attempt: number) => void;
  readonly fault?: (point: FaultPoint) => void | Promise<void>;
}

export interface ShadowMigrationResult {
  readonly from: { readonly checksum: string; readonly dimensions: number };
  readonly to: { readonly checksum: string; readonly dimensions: number; readonly vectorType: VectorType };
  /** Seconds per step run in this call (a resumed run lists only what it did). */
  readonly steps: readonly { readonly step: MigrationStep | 'done'; readonly seconds: number }[];
  readonly encoded: number;
  readonly encodeSeconds: number;
  /** Rows whose vector was copied (cast) instead of encoded: a vector type switch with the model unchanged. */
  readonly copied: number;
  readonly index: EnsureResult | undefined;
  readonly requeued: number;
  /** Rows the new model refused in this call's backfill (each once): left for the daemons to retry and dead-letter. */
  readonly refused: readonly RefusedRow[];
  /** Rows dead-lettered in this call because runs ended while encoding them alone. */
  readonly buried: readonly RefusedRow[];
}

export async function runShadowMigration(o: ShadowMigrationOptions): Promise<ShadowMigrationResult> {
  const { client, sql: s, encoder } = o;
  const model = encoder.info;
  const next = nextColumns(o.source);
  const main = mainColumns(o.source);
  // The shadow columns take the configured vector type: a switch of EMBEDSYNC_VECTOR_TYPE is this migration too.
  const nextSql: SourceSql = { ...withColumns(s, next), vectorType: o.source.vectorType };
  const shortLocks = {
    lockTimeoutMs: o.lockTimeoutMs ?? 100, ...(o.signal ? { signal: o.signal } : {}), onRetry: (n: number) => o.onLockRetry?.(n),
  };
  const fault = async (p: FaultPoint) => { await o.fault?.(p); };
  const steps: { step: MigrationStep | 'done'; seconds: number }[] = [];
  const timed = async (step: MigrationStep | 'done', fn: () => Promise<void>) => {
    const t0 = performance.now();
    await fn();
    const seconds = (performance.now() - t0) / 1000;
    steps.push({ step, seconds });
    o.onStep?.(step, seconds);
  };
  const setStep = (step: MigrationStep) => setMigrationStep(client, s.sourceKey, step);

  let state = await readModelState(client, s.sourceKey);
  if (!state) throw new MigrationConflictError(`${s.sourceKey} has no model recorded yet; a plain \`embedsync migrate\` sets it up`);
  const from = { checksum: state.checksum, dimensions: state.dimensions };
  if (state.migration && state.migration.checksum !== model.checksum) {
    throw new MigrationConflictError(`a migration of ${s.sourceKey} to ${state.migration.model} (${state.migration.checksum}, ` +
      `${state.migration.dimensions} dimensions) is under way at step ${state.migration.step}: finish it with that model, or run ` +
      '`embedsync migrate --abort` first');
  }
  if (!state.migration) {
    if (state.checksum === model.checksum && s.vectorType === o.source.vectorType) {
      throw new MigrationConflictError(`${s.sourceKey} already holds ${model.name} vectors of type ${s.vectorType}`);
    }
    await timed('started', () => beginMigration(client, s.sourceKey, model));
    state = (await readModelState(client, s.sourceKey))!;
    await fault('after-start');
  }
  let step = state.migration!.step;

  if (step === 'started') {
    await timed('columns', () => withShortLocks(client, async () => {
      await addShadowColumns(client, s, nextSql, main, next, model.dimensions);
      await setStep('columns');
    }, shortLocks));
    step = 'columns';
    await fault('after-columns');
  }

  let encoded = 0;
  let encodeSeconds = 0;
  let copied = 0;
  const refused = new Map<string, RefusedRow>();
  const buried: RefusedRow[] = [];
  const backfill = async (mid: boolean) => {
    const r = await backfillShadow(o, nextSql, mid ? () => fault('mid-backfill') : undefined);
    encoded += r.encoded;
    encodeSeconds += r.encodeSeconds;
    for (const x of r.refused) refused.set(x.id, x);
    buried.push(...r.buried);
  };
  if (step === 'columns') {
    await timed('backfilled', async () => {
      // Same model, another vector type: the current vectors are copied over (cast), not encoded again.
      if (from.checksum === model.checksum) {
        copied = await copyVectors(client, nextSql, main, model.checksum, o.signal ? { signal: o.signal } : {});
      }
      await backfill(true);
      await setStep('backfilled');
    });
    step = 'backfilled';
    await fault('after-backfill');
  }

  let index: EnsureResult | undefined;
  if (step === 'backfilled') {
    await timed('indexed', async () => {
      index = await ensureIndex(client, s, next.embedding, o.policy, { dimensions: model.dimensions, record: false, exact: true });
      await setStep('indexed');
    });
    step = 'indexed';
    await fault('after-index');
  }

  if (step === 'indexed') {
    // Rows changed since the backfill (old-model daemons dequeue them without touching the shadow columns).
    await backfill(false);
    // A chunked table: the new model's chunk index, before the swap re-renders chunk search for it (idempotent).
    await ensureChunkIndex(client, { ...s, vectorType: nextSql.vectorType }, model, o.policy.kind, o.policy.maintenanceWorkMem);
    const nextIndexName = vectorIndexName(s, next.embedding);
    const built = (await findVectorIndexes(client, s, next.embedding)).find((i) => i.valid && i.name === nextIndexName);
    const rows = built ? await countVectors(client, s, next.embedding) : 0;
    await timed('swapped', () => withShortLocks(client, () => swapColumns(client,
      { s, main, next, dimensions: model.dimensions, built, build: index, rows, vectorType: nextSql.vectorType }, () => fault('in-swap')),
    shortLocks));
    step = 'swapped';
    await fault('after-swap');
  }

  let requeued = 0;
  if (step === 'swapped') {
    await timed('done', async () => {
      requeued = await finishMigration(client, { ...s, vectorType: nextSql.vectorType }, model.checksum, o.source.idColumn);
    });
  }
  return {
    from, to: { checksum: model.checksum, dimensions: model.dimensions, vectorType: nextSql.vectorType }, steps, encoded, encodeSeconds,
    copied, index, requeued, refused: [...refused.values()], buried,
  };
}
