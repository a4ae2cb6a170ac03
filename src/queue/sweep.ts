// Reconciliation. enqueueUnsynced walks the whole source by primary key in chunks and enqueues the unsynced rows
// (embedding missing, from another model, or from other text): migrate runs it once, as its enqueue pass.
// The daemons reconcile with sweepStep instead, once per table however many of them run (embedsync.sweep):
// a frequent cheap pass over a partial index of the rows not embedded by the current model, and a slow verification
// of every row's text hash in keyset chunks, paced to one round per period and resumable from its stored position.
import type pg from 'pg';
import type { Queryable } from '../db/pool.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { loadSql, renderSql } from '../db/sql-template.ts';

export interface SweepProgress {
  readonly scanned: number;
  readonly enqueued: number;
}

export interface SweepOptions {
  readonly chunkSize?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: SweepProgress) => void;
}

interface ChunkRow { last_id: string | null; scanned: number; enqueued: number }

export async function enqueueUnsynced(db: Queryable, s: SourceSql, checksum: string, o: SweepOptions = {}): Promise<SweepProgress> {
  const text = renderSql('enqueue-unsynced', s);
  let last: string | null = null;
  let scanned = 0;
  let enqueued = 0;
  for (;;) {
    if (o.signal?.aborted) break;
    const res: { rows: ChunkRow[] } = await db.query(text, [s.sourceKey, last, checksum, o.chunkSize ?? 5000]);
    const r = res.rows[0]!;
    scanned += r.scanned;
    enqueued += r.enqueued;
    o.onProgress?.({ scanned, enqueued });
    if (r.last_id === null) break;
    last = r.last_id;
  }
  // One wake-up for running daemons (the sweep's INSERTs bypass the source triggers).
  if (enqueued > 0) await db.query(loadSql('notify'), [String(enqueued)]);
  return { scanned, enqueued };
}

/** 'changed': rows with no vector or another model's (cheap, frequent); 'verify': every row's text hash (slow). */
export const SWEEP_PASSES = ['changed', 'verify'] as const;
export type SweepPass = (typeof SWEEP_PASSES)[number];

export interface SweepPacing {
  /** The cheap pass: one step per table this often. */
  readonly changedEveryMs: number;
  /** Rows the cheap pass enqueues at most per step (the rest next time). */
  readonly changedLimit?: number;
  /** Verification: at most one round over the table per period, spread evenly over it. */
  readonly verifyPeriodMs: number;
  readonly verifyMaxRowsPerSecond: number;
  readonly verifyChunkRows: number;
}

export interface SweepStep {
  readonly pass: SweepPass;
  /** False when the pass was not due or another daemon held it. */
  readonly ran: boolean;
  readonly scanned: number;
  readonly enqueued: number;
  /** Verification: rows verified so far in this round (0 after a round finished). */
  readonly roundRows: number;
  readonly estimatedRows: number;
  /** A round finished with this step (for 'changed', every step is a round). */
  readonly finished: boolean;
  /** When the next step of this pass is due, from now (a step not run: 0 when another daemon holds it). */
  readonly nextInMs: number;
}

/** Creates the sweep rows of a source (migrate does; the daemon too, for a database migrated before them). */
export async function ensureSweepRows(db: Queryable, sourceKey: string): Promise<void> {
  await db.query(loadSql('sweep-rows'), [sourceKey, SWEEP_PASSES]);
}

interface ClaimRow { position: string | null; round_seconds: number | null; estimated_rows: number }

/**
 * Runs one step of `pass` for the source if it is due and no other daemon is running it: the step and the
 * record of it (position, due time, counts) commit together, so a crash repeats at most one chunk.
 */
export async function sweepStep(pool: pg.Pool, s: SourceSql, pass: SweepPass, checksum: string, p: SweepPacing): Promise<SweepStep> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const claimed = (await client.query<ClaimRow>(renderSql('sweep-claim', s), [s.sourceKey, pass, s.table])).rows[0];
    if (!claimed) {
      const due = (await client.query<{ due_in_seconds: number }>(loadSql('sweep-due'), [s.sourceKey, pass])).rows[0];
      await client.query('COMMIT');
      // Not due yet: when it will be. Due but held: another daemon is running the step (0, the caller's poll).
      const nextInMs = due ? due.due_in_seconds * 1000 : 0;
      return { pass, ran: false, scanned: 0, enqueued: 0, roundRows: 0, estimatedRows: 0, finished: false, nextInMs };
    }
    const estimatedRows = claimed.estimated_rows;
    let scanned: number;
    let enqueued: number;
    let position: string | null;
    let nextInMs: number;
    // Both passes read the source through an index: the cheap pass its sweep index, verification its key.
    await client.query(loadSql('sweep-index-only-local'));
    if (pass === 'changed') {
      const r = (await client.query<ChunkRow>(renderSql('enqueue-changed', s), [s.sourceKey, checksum, p.changedLimit ?? 10_000])).rows[0]!;
      ({ scanned, enqueued } = r);
      position = null;
      nextInMs = p.changedEveryMs;
    } else {
      const r = (await client.query<ChunkRow>(renderSql('enqueue-unsynced', s),
        [s.sourceKey, claimed.position, checksum, p.verifyChunkRows])).rows[0]!;
      ({ scanned, enqueued } = r);
      position = r.last_id;
      nextInMs = verifyDelayMs(p, scanned, estimatedRows, position === null ? (claimed.round_seconds ?? 0) : undefined);
    }
    const adv = (await client.query<{ round_rows: string }>(renderSql('sweep-advance', s),
      [s.sourceKey, pass, position, scanned, enqueued, nextInMs / 1000])).rows[0]!;
    if (enqueued > 0) await client.query(loadSql('notify'), [String(enqueued)]);
    await client.query('COMMIT');
    return { pass, ran: true, scanned, enqueued, roundRows: Number(adv.round_rows), estimatedRows, finished: position === null, nextInMs };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => { broken = true; });
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * The wait after a verification chunk: its share of the period (chunk rows / table rows), never faster than
 * the rate cap. After the last chunk of a round, the next round waits for the period to run out, so even an
 * estimate far off (a table never analyzed) cannot make verification run more than once per period.
 */
export function verifyDelayMs(p: SweepPacing, scanned: number, estimatedRows: number, finishedRoundSeconds?: number): number {
  const rows = Math.max(scanned, 1);
  const share = (p.verifyPeriodMs * rows) / Math.max(estimatedRows, rows);
  const floor = (1000 * rows) / p.verifyMaxRowsPerSecond;
  const step = Math.max(share, floor);
  if (finishedRoundSeconds === undefined) return step;
  return Math.max(step, p.verifyPeriodMs - finishedRoundSeconds * 1000);
}
