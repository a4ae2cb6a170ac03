// The first step of a row's path: claim a batch. A claim takes live rows first, keeps bulk's share of it
// (bulk-share.ts), is sized by the encoder's pace (claim-sizer.ts) and leases its rows to one claim loop
// (sql/claim.sql, FOR UPDATE SKIP LOCKED). It also fixes where the batch's documents are read from and its
// vectors written (the write target, src/queue/write-target.ts), and it sorts out rows that were in hand
// when a process ended (suspects.ts): too many ends and they go to the dead letters, a few and they are
// encoded in a smaller batch, alone.
import type { SyncConfig } from '../config/index.ts';
import type { Encoder } from '../encoder/types.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ClaimedRow } from '../queue/queue.ts';
import type { BatchTarget, WriteTargets } from '../queue/write-target.ts';
import type { RowFailure } from './batch-steps.ts';
import type { BulkShare } from './bulk-share.ts';
import type { ClaimSizer } from './claim-sizer.ts';
import { splitSuspects, type GatePass, type SuspectGate } from './suspects.ts';

/** A claimed batch, as it goes down the path: its rows and the columns they go to. */
export interface Batch {
  readonly rows: readonly ClaimedRow[];
  /** Where this batch reads its documents and writes its vectors: chosen at the claim, kept to the end. */
  readonly target: BatchTarget;
  /** When the claim began and ended (performance.now()): the batch's trace starts with it. */
  readonly claimStart: number;
  readonly claimEnd: number;
}

export interface ClaimDeps {
  readonly targets: WriteTargets;
  readonly encoder: Encoder;
  readonly sync: Pick<SyncConfig, 'batchSize' | 'maxAttempts' | 'retryBaseMs' | 'leaseSeconds'>;
  /** The claim loop's lease owner (`<daemon owner>/<n>` or `<daemon owner>/live`). */
  readonly owner: string;
  /** 'live': this loop claims live rows only. */
  readonly lanes: 'all' | 'live';
  readonly sizer: ClaimSizer;
  readonly bulkShare: BulkShare;
  readonly gate: SuspectGate;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
  readonly onFailure: (f: RowFailure) => void;
  /** Set when the daemon stops: no more claims. */
  readonly stopping: AbortSignal;
  /** Gives back rows of earlier batches that could not be released (batch-processor.ts); called before each claim. */
  readonly releaseOrphans: () => Promise<void>;
}

/**
 * A batch to process, null when there is nothing to do now, 'again' when suspects were given back because
 * other loops may hold rows: the loop claims again at once, alone this time (`pass` comes from deps.gate).
 */
export async function claimBatch(d: ClaimDeps, pass: GatePass): Promise<Batch | 'again' | null> {
  if (d.stopping.aborted) return null;
  const target = await d.targets.forBatch();
  if (!target) return null;
  // A remote encoder that is down (circuit open): leave the rows queued rather than claim and hand them back.
  if (d.encoder.availability?.open) return null;
  await d.releaseOrphans();
  const claimStart = performance.now();
  const size = d.sizer.rows();
  d.metrics?.syncClaimRows.set(size);
  const reserve = d.lanes === 'all' ? d.bulkShare.reserve(size) : 0;
  const claimed = await d.targets.queue.claim(size, d.owner, d.sync.leaseSeconds, reserve, d.lanes);
  d.bulkShare.took(reserve, claimed.filter((r) => r.lane === 'bulk').length);
  const claimEnd = performance.now();
  if (claimed.length === 0) return null;
  const rows = await sortSuspects(d, claimed, pass);
  if (rows === 'again') return 'again';
  return rows.length > 0 ? { rows, target, claimStart, claimEnd } : null;
}

/** The rows of a claim to encode now; the rest dead-lettered (too many ends) or given back (suspects.ts). */
async function sortSuspects(d: ClaimDeps, claimed: readonly ClaimedRow[], pass: GatePass): Promise<readonly ClaimedRow[] | 'again'> {
  const { queue } = d.targets;
  const split = splitSuspects(claimed, d.sync.batchSize, d.sync.maxAttempts);
  if (split.bury.length > 0) {
    await queue.fail(split.bury.map((b) => ({ id: b.row.id, error: b.error })), d.owner, 0, d.sync.retryBaseMs);
    for (const b of split.bury) d.onFailure({ id: b.row.id, error: b.error, deadLettered: true });
  }
  // Only a loop that claimed alone may open the gate: a side-by-side claim without suspects says nothing
  // about the suspects another loop has just given back.
  if (split.ends > 0 || pass.exclusive) d.gate.found(split.ends > 0);
  if (split.ends > 0 && !pass.exclusive) {
    // Suspects while other loops may hold rows: all back, and claim again once this loop is alone.
    await queue.release(claimed.filter((r) => !split.bury.some((b) => b.row === r)).map((r) => r.id), d.owner, 0);
    return 'again';
  }
  if (split.giveBack.length > 0) await queue.release(split.giveBack.map((r) => r.id), d.owner, 0);
  if (split.ends > 0) {
    d.logger.warn({ event: 'suspect_rows', rows: split.keep.length, ends: split.ends },
      'rows that were in hand when the process ended: encoding them in a smaller batch');
  }
  return split.keep;
}
