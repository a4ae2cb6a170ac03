// A model change — a new dimension (e.g. 384 -> 1024) or new weights of the same dimension — without taking
// search offline: the old vectors answer every query until the new ones are complete, then one short swap.
// A sequence of resumable steps:
//
//   started     target model recorded on the state row
//   columns     <embedding>_next vector(N'), <checksum>_next, <text_hash>_next added (metadata-only ALTER)
//   backfilled  every row encoded by the new model into the shadow columns, in key-ordered chunks
//   indexed     the vector index built CONCURRENTLY on the shadow column (when the policy wants one)
//   swapped     one short transaction: old columns and index dropped, shadow ones renamed into their place,
//               state switched to the new model
//   (done)      rows that changed during the swap re-enqueued, migration fields cleared
//
// migration_step records the last step finished, in the same transaction as the step's own changes where
// there are any, so a crash or Ctrl-C anywhere resumes at the step that did not finish. Readers keep using
// the main column throughout; the only ACCESS EXCLUSIVE locks are the two metadata-only ALTERs, each
// waiting at most lockTimeoutMs (withShortLocks). Daemons running the new model write the shadow columns
// meanwhile (src/db/write-target.ts); daemons still on the old model keep the old column current until
// the swap, after which they write nothing (the write statement refuses them, migrations/005_model_guard.sql)
// and report the mismatch (src/sync/model-watch.ts).
import type pg from 'pg';
import type { SourceConfig } from '../config/index.ts';
import { quoteIdent } from './quote.ts';
import type { Encoder } from '../encoder/types.ts';
import { queueOps, type WriteItem } from '../queue/queue.ts';
import { enqueueStale } from '../queue/sweep.ts';
import { mainColumns, nextColumns, readModelState, withColumns, type MigrationStep, type ModelState, type VectorColumns } from './model-state.ts';
import { installSearchFunctions } from './search-functions.ts';
import { ensureSweepIndex } from './sweep-index.ts';
import { withShortLocks } from './short-lock.ts';
import type { Queryable } from './pool.ts';
import type { SourceSql } from './source-sql.ts';
import { renderSql } from './sql-template.ts';
import { ensureIndex, findVectorIndexes, recordIndex, schemaOf, vectorIndexName, type EnsureResult, type IndexPolicy } from './vector-index.ts';

/** Where a test can make the migration fail, as a crash there would (the hook throws). */
export const FAULT_POINTS = ['after-start', 'after-columns', 'mid-backfill', 'after-backfill', 'after-index', 'in-swap', 'after-swap'] as const;
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
  readonly onLockRetry?: (attempt: number) => void;
  readonly fault?: (point: FaultPoint) => void | Promise<void>;
}

export interface BackfillProgress {
  readonly scanned: number;
  readonly encoded: number;
  readonly total: number;
}

export interface ShadowMigrationResult {
  readonly from: { readonly checksum: string; readonly dimensions: number };
  readonly to: { readonly checksum: string; readonly dimensions: number };
  /** Seconds per step run in this call (a resumed run lists only what it did). */
  readonly steps: readonly { readonly step: MigrationStep | 'done'; readonly seconds: number }[];
  readonly encoded: number;
  readonly encodeSeconds: number;
  readonly index: EnsureResult | undefined;
  readonly requeued: number;
}

export class MigrationConflictError extends Error {
  override name = 'MigrationConflictError';
}

export async function runShadowMigration(o: ShadowMigrationOptions): Promise<ShadowMigrationResult> {
  const { client, sql: s, encoder } = o;
  const model = encoder.info;
  const next = nextColumns(o.source);
  const main = mainColumns(o.source);
  const nextSql = withColumns(s, next);
  const shortLocks = { lockTimeoutMs: o.lockTimeoutMs ?? 100, ...(o.signal ? { signal: o.signal } : {}), onRetry: (n: number) => o.onLockRetry?.(n) };
  const fault = async (p: FaultPoint) => { await o.fault?.(p); };
  const steps: { step: MigrationStep | 'done'; seconds: number }[] = [];
  const timed = async (step: MigrationStep | 'done', fn: () => Promise<void>) => {
    const t0 = performance.now();
    await fn();
    const seconds = (performance.now() - t0) / 1000;
    steps.push({ step, seconds });
    o.onStep?.(step, seconds);
  };
  const setStep = (step: MigrationStep) =>
    client.query('UPDATE embedsync.state SET migration_step = $2, updated_at = now() WHERE source = $1', [s.sourceKey, step]);

  let state = await readModelState(client, s.sourceKey);
  if (!state) throw new MigrationConflictError(`${s.sourceKey} has no model recorded yet; a plain \`embedsync migrate\` sets it up`);
  const from = { checksum: state.checksum, dimensions: state.dimensions };
  if (state.migration && state.migration.checksum !== model.checksum) {
    throw new MigrationConflictError(`a migration of ${s.sourceKey} to ${state.migration.model} (${state.migration.checksum}, ` +
      `${state.migration.dimensions} dimensions) is under way at step ${state.migration.step}: finish it with that model, or run ` +
      '`embedsync migrate --abort` first');
  }
  if (!state.migration) {
    if (state.checksum === model.checksum) throw new MigrationConflictError(`${s.sourceKey} already holds ${model.name} vectors`);
    await timed('started', async () => {
      await client.query(
        `UPDATE embedsync.state SET target_model = $2, target_checksum = $3, target_dimensions = $4, migration_step = 'started',
           migration_started = now(), updated_at = now() WHERE source = $1`,
        [s.sourceKey, model.name, model.checksum, model.dimensions]);
    });
    state = (await readModelState(client, s.sourceKey))!;
    await fault('after-start');
  }
  let step = state.migration!.step;

  if (step === 'started') {
    await timed('columns', () => withShortLocks(client, async () => {
      // No default, nullable: a catalog-only change, however big the table.
      await client.query(`ALTER TABLE ${s.table}
        ADD COLUMN IF NOT EXISTS ${quoteIdent(next.embedding)} vector(${dims(model.dimensions)}),
        ADD COLUMN IF NOT EXISTS ${quoteIdent(next.checksum)} text,
        ADD COLUMN IF NOT EXISTS ${quoteIdent(next.textHash)} uuid`);
      await copyColumnGrants(client, s, main, next);
      await setStep('columns');
    }, shortLocks));
    step = 'columns';
    await fault('after-columns');
  }

  let encoded = 0;
  let encodeSeconds = 0;
  const backfill = async (mid: boolean) => {
    const r = await backfillShadow(o, nextSql, mid ? fault : undefined);
    encoded += r.encoded;
    encodeSeconds += r.encodeSeconds;
  };
  if (step === 'columns') {
    await timed('backfilled', async () => {
      await backfill(true);
      await setStep('backfilled');
    });
    step = 'backfilled';
    await fault('after-backfill');
  }

  let index: EnsureResult | undefined;
  const nextIndexName = vectorIndexName(s, next.embedding);
  if (step === 'backfilled') {
    await timed('indexed', async () => {
      index = await ensureIndex(client, s, next.embedding, o.policy, { dimensions: model.dimensions, record: false });
      await setStep('indexed');
    });
    step = 'indexed';
    await fault('after-index');
  }

  if (step === 'indexed') {
    // Rows changed since the backfill (old-model daemons dequeue them without touching the shadow columns).
    await backfill(false);
    const built = (await findVectorIndexes(client, s, next.embedding)).find((i) => i.valid && i.name === nextIndexName);
    const rows = built ? Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${s.table} WHERE ${quoteIdent(next.embedding)} IS NOT NULL`)).rows[0]!.n) : 0;
    await timed('swapped', () => withShortLocks(client, async () => {
      const t = s.table;
      for (const old of await findVectorIndexes(client, s, main.embedding)) {
        await client.query(`DROP INDEX ${schemaOf(s)}.${quoteIdent(old.name)}`);
      }
      await client.query(`ALTER TABLE ${t} DROP COLUMN ${quoteIdent(main.embedding)}, DROP COLUMN ${quoteIdent(main.checksum)},
        DROP COLUMN ${quoteIdent(main.textHash)}`);
      for (const k of ['embedding', 'checksum', 'textHash'] as const) {
        await client.query(`ALTER TABLE ${t} RENAME COLUMN ${quoteIdent(next[k])} TO ${quoteIdent(main[k])}`);
      }
      const mainIndexName = vectorIndexName(s, main.embedding);
      if (built) {
        await client.query(`ALTER INDEX ${schemaOf(s)}.${quoteIdent(nextIndexName)} RENAME TO ${quoteIdent(mainIndexName)}`);
        const rec = index ?? undefined;
        await recordIndex(client, s.sourceKey, {
          name: mainIndexName, kind: built.kind, lists: built.lists ?? null, dimensions: model.dimensions, rowsAtBuild: rec?.rows ?? rows,
          buildSeconds: rec?.buildSeconds ?? 0,
        });
      } else {
        await client.query('DELETE FROM embedsync.vector_index WHERE source = $1', [s.sourceKey]);
      }
      await client.query(
        `UPDATE embedsync.state SET model = target_model, model_checksum = target_checksum, dimensions = target_dimensions,
           migration_step = 'swapped', updated_at = now() WHERE source = $1`, [s.sourceKey]);
      await fault('in-swap');
    }, shortLocks));
    step = 'swapped';
    await fault('after-swap');
  }

  let requeued = 0;
  if (step === 'swapped') {
    await timed('done', async () => {
      // Rows whose text changed between the last catch-up and the swap: the daemon re-embeds them.
      requeued = (await enqueueStale(client, s, model.checksum)).enqueued;
      await installSearchFunctions(client, s);
      // The sweep's partial index went with the old checksum column: again, for the new model (idempotent).
      await ensureSweepIndex(client, s, model.checksum).catch((err: unknown) => {
        if ((err as { code?: string }).code !== '42501') throw err;
      });
      await client.query(
        `UPDATE embedsync.state SET target_model = NULL, target_checksum = NULL, target_dimensions = NULL, migration_step = NULL,
           migration_started = NULL, updated_at = now() WHERE source = $1`, [s.sourceKey]);
    });
  }
  return { from, to: { checksum: model.checksum, dimensions: model.dimensions }, steps, encoded, encodeSeconds, index, requeued };
}

const COLUMN_PRIVILEGES = new Set(['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']);

/**
 * Column privileges belong to the column, not its name: a daemon role granted UPDATE on the vector columns
 * (docs/security.md) would lose it at the swap. The shadow columns get the same grants as the ones they replace.
 */
async function copyColumnGrants(client: pg.Client, s: SourceSql, from: VectorColumns, to: VectorColumns): Promise<void> {
  for (const k of ['embedding', 'checksum', 'textHash'] as const) {
    const { rows } = await client.query<{ privilege: string; grantee: string }>(
      `SELECT g.privilege_type AS privilege,
              CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee
       FROM pg_attribute a CROSS JOIN LATERAL aclexplode(a.attacl) g LEFT JOIN pg_roles r ON r.oid = g.grantee
       WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped`, [s.table, from[k]]);
    for (const r of rows) {
      // privilege_type is one of a closed set and the grantee comes quoted by quote_ident.
      if (!COLUMN_PRIVILEGES.has(r.privilege)) continue;
      await client.query(`GRANT ${r.privilege} (${quoteIdent(to[k])}) ON ${s.table} TO ${r.grantee}`);
    }
  }
}

function dims(d: number): number {
  if (!Number.isInteger(d) || d < 1 || d > 16_000) throw new Error(`invalid vector dimension ${d}`);
  return d;
}

/** Encodes every row whose shadow vector is missing or stale, chunk by chunk in key order. */
async function backfillShadow(o: ShadowMigrationOptions, nextSql: SourceSql, fault: ((p: FaultPoint) => Promise<void>) | undefined): Promise<{ encoded: number; encodeSeconds: number }> {
  const { client, encoder } = o;
  const text = renderSql('backfill-chunk', nextSql);
  const ops = queueOps(client, nextSql, o.vectorOid);
  const total = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${nextSql.table}`)).rows[0]!.n);
  const chunk = o.chunkSize ?? 256;
  let last: string | null = null;
  let scanned = 0;
  let encoded = 0;
  let encodeSeconds = 0;
  for (;;) {
    o.signal?.throwIfAborted();
    const { rows }: { rows: { id: string; document: string; hash: string; stale: boolean }[] } = await client.query(text, [last, chunk, encoder.info.checksum]);
    if (rows.length === 0) break;
    last = rows[rows.length - 1]!.id;
    scanned += rows.length;
    const stale = rows.filter((r) => r.stale);
    const docs = stale.filter((r) => r.document.trim() !== '');
    if (stale.length > 0) {
      const t0 = performance.now();
      const vectors = docs.length ? (await encoder.encode(docs.map((r) => r.document), 'document', o.signal ? { signal: o.signal } : {})).vectors : [];
      encodeSeconds += (performance.now() - t0) / 1000;
      const byId = new Map(docs.map((r, i) => [r.id, vectors[i]!]));
      const items: WriteItem[] = stale.map((r) => ({ id: r.id, hash: r.hash, vector: byId.get(r.id) ?? null }));
      // The write re-checks each row's text hash, so a row edited meanwhile is skipped (and caught by the
      // catch-up pass or the daemon), never given a vector of text it no longer has.
      await ops.write(items, [], [], encoder.info.checksum);
      encoded += docs.length;
      if (fault && encoded > 0) {
        const f = fault;
        fault = undefined;
        await f('mid-backfill');
      }
    }
    o.onBackfill?.({ scanned, encoded, total });
    if (rows.length < chunk) break;
  }
  return { encoded, encodeSeconds };
}

/** Drops the shadow columns and index of an unfinished migration (before its swap) and forgets it. */
export async function abortShadowMigration(client: pg.Client, source: SourceConfig, s: SourceSql, state: ModelState, lockTimeoutMs = 100): Promise<boolean> {
  if (!state.migration) return false;
  if (state.migration.step === 'swapped') throw new MigrationConflictError('the migration has already swapped columns; run `embedsync migrate` to finish it');
  const next = nextColumns(source);
  for (const i of await findVectorIndexes(client, s, next.embedding)) {
    await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${schemaOf(s)}.${quoteIdent(i.name)}`);
  }
  await withShortLocks(client, async () => {
    await client.query(`ALTER TABLE ${s.table} DROP COLUMN IF EXISTS ${quoteIdent(next.embedding)},
      DROP COLUMN IF EXISTS ${quoteIdent(next.checksum)}, DROP COLUMN IF EXISTS ${quoteIdent(next.textHash)}`);
    await client.query(
      `UPDATE embedsync.state SET target_model = NULL, target_checksum = NULL, target_dimensions = NULL, migration_step = NULL,
         migration_started = NULL, updated_at = now() WHERE source = $1`, [s.sourceKey]);
  }, { lockTimeoutMs });
  return true;
}

export interface MigrationProgress {
  readonly model: string;
  readonly checksum: string;
  readonly dimensions: number;
  readonly step: MigrationStep;
  /** Rows holding the new model's vector in the shadow column, of all rows (before the swap). */
  readonly done: number | null;
  readonly total: number | null;
}

/** A dimension migration under way, for status: its step and how far the backfill has got. */
export async function migrationProgress(db: Queryable, source: SourceConfig, s: SourceSql): Promise<MigrationProgress | undefined> {
  const state = await readModelState(db, s.sourceKey);
  const m = state?.migration;
  if (!m) return undefined;
  let done: number | null = null;
  let total: number | null = null;
  if (m.step !== 'started' && m.step !== 'swapped') {
    const next = nextColumns(source);
    const { rows } = await db.query<{ done: string; total: string }>(
      `SELECT count(*) FILTER (WHERE ${quoteIdent(next.checksum)} = $1) AS done, count(*) AS total FROM ${s.table}`, [m.checksum]);
    done = Number(rows[0]!.done);
    total = Number(rows[0]!.total);
  }
  return { model: m.model, checksum: m.checksum, dimensions: m.dimensions, step: m.step, done, total };
}
