// Handles one claimed batch: read documents, skip what needs no encoding, encode the rest, write vectors
// and dequeue in one statement, then give back what changed meanwhile and record failures.
//
// Failure isolation (batch-steps.ts): one bad row never blocks the others. An unavailable backend (remote
// encoder down) is nobody's fault: the rows are released without counting an attempt and the loop pauses
// with a growing backoff.
import type { Encoder } from '../encoder/types.ts';
import { backoff } from '../lib/backoff.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ClaimedRow, DocumentRow, QueueOps, WriteItem, WriteResult } from '../queue/queue.ts';
import { classify } from './batch-classify.ts';
import { encodeDocuments, readDocuments, Unavailable, writeVectors, type Failure } from './batch-steps.ts';
import type { ProcessResult } from './worker-loop.ts';

export interface BatchProcessorDeps {
  readonly ops: QueueOps;
  readonly encoder: Encoder;
  readonly owner: string;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly leaseSeconds: number;
  readonly metrics?: Metrics;
  /** Told the rows and tokens of every encoded batch (claim sizing). */
  readonly onEncoded?: (rows: number, tokens: number) => void;
  readonly onFailure?: (f: { id: string; error: string; deadLettered: boolean }) => void;
}

export interface BatchProcessor {
  process(claimed: readonly ClaimedRow[], signal: AbortSignal): Promise<ProcessResult>;
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

  const processBatch = async (claimed: readonly ClaimedRow[], signal: AbortSignal): Promise<ProcessResult> => {
    const checksum = d.encoder.info.checksum;
    const failures: Failure[] = [];
    const docs = await readDocuments(d, claimed, checksum, failures);
    const { finished, blanks, toEncode } = classify(claimed, docs, new Set(failures.map((f) => f.id)));

    let vectors: Map<string, Float32Array>;
    try {
      vectors = await encodeByLane(d, claimed, toEncode, signal, failures);
    } catch (err) {
      if (err instanceof Unavailable || signal.aborted) {
        // Not the rows' fault: give them back untouched; pause longer while the backend stays down.
        await d.ops.release(claimed.map((c) => c.id), d.owner, 0);
        if (signal.aborted) return {};
        unavailableStreak += 1;
        // A remote encoder's circuit breaker knows when its next probe is due: wait for exactly that.
        const retryIn = d.encoder.availability?.retryInMs() ?? 0;
        return { pauseMs: retryIn > 0 ? retryIn : UNAVAILABLE_PAUSE.delayMs(unavailableStreak - 1) };
      }
      throw err;
    }
    unavailableStreak = 0;
    const items: WriteItem[] = [...blanks];
    for (const doc of toEncode) {
      const v = vectors.get(doc.id);
      if (v) items.push({ id: doc.id, hash: doc.hash, vector: v });
    }

    const result = await writeVectors(d, items, finished, claimed, checksum, failures);
    observeWrite(d.metrics, items, result, claimed);
    await recordFailures(d, claimed, failures);
    await releaseRest(d, claimed, result, failures);
    return {};
  };

  const process = async (claimed: readonly ClaimedRow[], signal: AbortSignal): Promise<ProcessResult> => {
    // Renew the lease while the batch is in hand (a third of the way through each lease), so a slow encode
    // is not mistaken for a dead daemon.
    const ids = claimed.map((c) => c.id);
    const renew = setInterval(() => { d.ops.extendLease?.(ids, d.owner, d.leaseSeconds).catch(() => undefined); }, d.leaseSeconds * 1000 / 3);
    // A batch in hand keeps the local encoder free for its database round trips while it is behind on its
    // share, so HTTP runs (which block the JS thread) cannot get between each step of it.
    const letGo = d.encoder.scheduler?.hold('sync');
    try {
      return await processBatch(claimed, signal);
    } catch (err) {
      // Database trouble (deadlock, restart): hand the rows back at once if we still can, so they do not
      // wait out the lease; if we cannot, the lease expiry brings them back.
      await d.ops.release(ids, d.owner, 0).catch(() => { for (const id of ids) orphans.add(id); });
      throw err;
    } finally {
      letGo?.();
      clearInterval(renew);
    }
  };

  return {
    process,
    async releaseOrphans() {
      if (orphans.size === 0) return;
      const ids = [...orphans];
      await d.ops.release(ids, d.owner, 0);
      for (const id of ids) orphans.delete(id);
    },
  };
}

/**
 * Live rows are encoded as urgent work, ahead of any bulk run waiting for the encoder (run-scheduler.ts); the
 * batch's bulk rows (bulk's share of a claim) go as bulk work beside them.
 */
async function encodeByLane(d: BatchProcessorDeps, claimed: readonly ClaimedRow[], docs: readonly DocumentRow[], signal: AbortSignal, failures: Failure[]): Promise<Map<string, Float32Array>> {
  const live = new Set(claimed.filter((c) => c.lane === 'live').map((c) => c.id));
  const parts = await Promise.allSettled([
    encodeDocuments(d, docs.filter((x) => live.has(x.id)), signal, failures, 'live'),
    encodeDocuments(d, docs.filter((x) => !live.has(x.id)), signal, failures, 'bulk'),
  ]);
  const failed = parts.find((p): p is PromiseRejectedResult => p.status === 'rejected');
  if (failed) throw failed.reason;
  return new Map(parts.flatMap((p) => (p.status === 'fulfilled' ? [...p.value] : [])));
}

function observeWrite(metrics: Metrics | undefined, items: readonly WriteItem[], result: WriteResult, claimed: readonly ClaimedRow[]): void {
  if (!metrics) return;
  const written = new Set(result.written);
  metrics.rowsEmbedded.inc(items.filter((i) => i.vector !== null && written.has(i.id)).length);
  const live = new Set(claimed.filter((c) => c.lane === 'live').map((c) => c.id));
  result.lagSeconds.forEach((lag, i) => {
    metrics.changeToEmbeddingSeconds.observe(lag);
    if (live.has(result.dequeued[i]!)) metrics.liveFreshnessSeconds.observe(lag);
  });
}

/** Counts an attempt for each failed row (dead-lettering it at maxAttempts) and tells onFailure. */
async function recordFailures(d: BatchProcessorDeps, claimed: readonly ClaimedRow[], failures: readonly Failure[]): Promise<void> {
  if (failures.length === 0) return;
  await d.ops.fail(failures, d.owner, d.maxAttempts, d.retryBaseMs);
  const attempts = new Map(claimed.map((c) => [c.id, c.attempts]));
  for (const f of failures) d.onFailure?.({ ...f, deadLettered: (attempts.get(f.id) ?? 0) + 1 >= d.maxAttempts });
}

/**
 * Whatever is neither dequeued nor failed changed while we worked (or its write found other text): back to
 * the queue at once, without counting an attempt.
 */
async function releaseRest(d: BatchProcessorDeps, claimed: readonly ClaimedRow[], result: WriteResult, failures: readonly Failure[]): Promise<void> {
  const settled = new Set([...result.dequeued, ...failures.map((f) => f.id)]);
  const back = claimed.map((c) => c.id).filter((id) => !settled.has(id));
  await d.ops.release(back, d.owner, 0);
}
