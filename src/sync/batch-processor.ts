// Handles one claimed batch (claim-batch.ts), the rest of the row's path: read the documents, skip what needs
// no encoding, encode the rest, write vectors and dequeue in one statement, then release: record the failures
// and give back what changed meanwhile. Read and write go to the batch's own target (the columns chosen when
// it was claimed); each step returns its outcome, the failures with it (batch-steps.ts).
//
// Failure isolation (batch-steps.ts): one bad row never blocks the others. An unavailable backend (remote
// encoder down) is nobody's fault: the rows are released without counting an attempt and the loop pauses
// with a growing backoff.
import type { Encoder } from '../encoder/types.ts';
import { backoff } from '../lib/backoff.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ClaimedRow, DocumentRow, QueueOps, WriteItem, WriteResult } from '../queue/queue.ts';
import { recordSpan, withSpan } from '../tracing/index.ts';
import { classify } from './batch-classify.ts';
import {
  encodeDocuments, readDocuments, Unavailable, writeVectors, type Failure, type RowFailure, type StepOutcome,
} from './batch-steps.ts';
import type { Batch } from './claim-batch.ts';
import type { ProcessResult } from './worker-loop.ts';

export interface BatchProcessorDeps {
  /** The queue's operations: release, fail, lease renewal (the batch's read and write go to its target). */
  readonly queue: QueueOps;
  readonly encoder: Encoder;
  /** The claim loop's lease owner. */
  readonly owner: string;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly leaseSeconds: number;
  readonly metrics?: Metrics;
  /** Told the rows and tokens of every encoded batch (claim sizing). */
  readonly onEncoded?: (rows: number, tokens: number) => void;
  readonly onFailure?: (f: RowFailure) => void;
}

export interface BatchProcessor {
  process(batch: Batch, signal: AbortSignal): Promise<ProcessResult>;
  /** Gives back batches that could not be released when they failed (database down); call before claiming. */
  releaseOrphans(): Promise<void>;
}

/** The pause while the backend stays unavailable and its breaker names no time: 250 ms doubling to 30 s. */
const UNAVAILABLE_PAUSE = backoff({ baseMs: 250, maxMs: 30_000, maxExponent: 7 });

export function createBatchProcessor(d: BatchProcessorDeps): BatchProcessor {
  let unavailableStreak = 0;
  // Ids of batches that failed while the database was unreachable: released as soon as it is back, so they
  // do not sit out the rest of their lease.
  const orphans = new Set<string>();

  const processBatch = async ({ rows: claimed, target }: Batch, signal: AbortSignal): Promise<ProcessResult> => {
    const checksum = d.encoder.info.checksum;
    // Read.
    const read = await readDocuments(target, claimed, checksum);
    const { finished, blanks, toEncode } = classify(claimed, read.value, new Set(read.failures.map((f) => f.id)));

    // Encode.
    let encoded: StepOutcome<Map<string, Float32Array>>;
    try {
      encoded = await encodeByLane(d, claimed, toEncode, signal);
    } catch (err) {
      if (err instanceof Unavailable || signal.aborted) {
        // Not the rows' fault: give them back untouched; pause longer while the backend stays down.
        await d.queue.release(claimed.map((c) => c.id), d.owner, 0);
        if (signal.aborted) return {};
        unavailableStreak += 1;
        // A remote encoder's circuit breaker knows when its next probe is due: wait for exactly that.
        const retryIn = d.encoder.availability?.retryInMs() ?? 0;
        return { pauseMs: retryIn > 0 ? retryIn : UNAVAILABLE_PAUSE.delayMs(unavailableStreak - 1) };
      }
      throw err;
    }
    unavailableStreak = 0;

    // Write (and dequeue).
    const items: WriteItem[] = [...blanks];
    for (const doc of toEncode) {
      const v = encoded.value.get(doc.id);
      if (v) items.push({ id: doc.id, hash: doc.hash, vector: v });
    }
    const written = await writeVectors(target, items, finished, claimed, checksum);
    observeWrite(d.metrics, items, written.value, claimed);

    // Release.
    await releaseBatch(d, claimed, written.value, [...read.failures, ...encoded.failures, ...written.failures]);
    return {};
  };

  const processInHand = async (batch: Batch, signal: AbortSignal): Promise<ProcessResult> => {
    const claimed = batch.rows;
    // Renew the lease while the batch is in hand (a third of the way through each lease), so a slow encode
    // is not mistaken for a dead daemon.
    const ids = claimed.map((c) => c.id);
    const renew = setInterval(() => { d.queue.extendLease?.(ids, d.owner, d.leaseSeconds).catch(() => undefined); },
      d.leaseSeconds * 1000 / 3);
    // A batch in hand keeps the local encoder free for its database round trips while it is behind on its
    // share, so HTTP runs (which block the JS thread) cannot get between each step of it.
    const letGo = d.encoder.scheduler?.hold('sync');
    try {
      return await processBatch(batch, signal);
    } catch (err) {
      // Database trouble (deadlock, restart): hand the rows back at once if we still can, so they do not
      // wait out the lease; if we cannot, the lease expiry brings them back.
      await d.queue.release(ids, d.owner, 0).catch(() => { for (const id of ids) orphans.add(id); });
      throw err;
    } finally {
      letGo?.();
      clearInterval(renew);
    }
  };

  return {
    process(batch, signal) {
      // Tracing: one span per batch, starting with its claim. Empty claims (idle polls) are not traced, so the
      // claim was timed by claimBatch and is recorded here as the batch's first child.
      const { rows, claimStart, claimEnd } = batch;
      return withSpan('embedsync.batch', { 'embedsync.rows': rows.length, 'embedsync.owner': d.owner }, async () => {
        recordSpan('embedsync.claim', { 'embedsync.rows': rows.length }, claimStart, claimEnd);
        return processInHand(batch, signal);
      }, { startTime: claimStart });
    },
    async releaseOrphans() {
      if (orphans.size === 0) return;
      const ids = [...orphans];
      await d.queue.release(ids, d.owner, 0);
      for (const id of ids) orphans.delete(id);
    },
  };
}

/**
 * Live rows are encoded as urgent work, ahead of any bulk run waiting for the encoder (run-scheduler.ts); the
 * batch's bulk rows (bulk's share of a claim) go as bulk work beside them.
 */
async function encodeByLane(
  d: BatchProcessorDeps, claimed: readonly ClaimedRow[], docs: readonly DocumentRow[], signal: AbortSignal,
): Promise<StepOutcome<Map<string, Float32Array>>> {
  const live = new Set(claimed.filter((c) => c.lane === 'live').map((c) => c.id));
  const parts = await Promise.allSettled([
    encodeDocuments(d, docs.filter((x) => live.has(x.id)), signal, 'live'),
    encodeDocuments(d, docs.filter((x) => !live.has(x.id)), signal, 'bulk'),
  ]);
  const failed = parts.find((p): p is PromiseRejectedResult => p.status === 'rejected');
  if (failed) throw failed.reason;
  const outcomes = parts.flatMap((p) => (p.status === 'fulfilled' ? [p.value] : []));
  return { value: new Map(outcomes.flatMap((o) => [...o.value])), failures: outcomes.flatMap((o) => o.failures) };
}

function observeWrite(metrics: Metrics | undefined, items: readonly WriteItem[], result: WriteResult,
  claimed: readonly ClaimedRow[]): void {
  if (!metrics) return;
  const written = new Set(result.written);
  metrics.rowsEmbedded.inc(items.filter((i) => i.vector !== null && written.has(i.id)).length);
  const live = new Set(claimed.filter((c) => c.lane === 'live').map((c) => c.id));
  result.lagSeconds.forEach((lag, i) => {
    metrics.changeToEmbeddingSeconds.observe(lag);
    if (live.has(result.dequeued[i]!)) metrics.liveFreshnessSeconds.observe(lag);
  });
}

/**
 * The last step: each failed row gets an attempt counted (dead-lettered at maxAttempts, onFailure told), and
 * whatever is neither dequeued nor failed changed while we worked (or its write found other text): back to
 * the queue at once, without counting an attempt.
 */
async function releaseBatch(
  d: BatchProcessorDeps, claimed: readonly ClaimedRow[], result: WriteResult, failures: readonly Failure[],
): Promise<void> {
  if (failures.length > 0) {
    await d.queue.fail(failures, d.owner, d.maxAttempts, d.retryBaseMs);
    const attempts = new Map(claimed.map((c) => [c.id, c.attempts]));
    for (const f of failures) d.onFailure?.({ ...f, deadLettered: (attempts.get(f.id) ?? 0) + 1 >= d.maxAttempts });
  }
  const settled = new Set([...result.dequeued, ...failures.map((f) => f.id)]);
  const back = claimed.map((c) => c.id).filter((id) => !settled.has(id));
  await d.queue.release(back, d.owner, 0);
}
