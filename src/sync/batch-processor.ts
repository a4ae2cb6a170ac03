// Handles one claimed batch: read documents, skip what needs no encoding, encode the rest, write vectors
// and dequeue in one statement, then give back what changed meanwhile and record failures.
//
// Failure isolation: an input error that names its index fails just that row; any other failure of a
// multi-row step is bisected until the bad row stands alone, so one bad row never blocks the others.
// An unavailable backend (remote encoder down) is nobody's fault: the rows are released without counting
// an attempt and the loop pauses with a growing backoff.
import { EncodeError, type Encoder } from '../encoder/types.ts';
import { availabilityOf } from '../encoder/remote/index.ts';
import { schedulerOf } from '../encoder/run-scheduler.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ClaimedRow, DocumentRow, QueueOps, WriteItem, WriteResult } from '../queue/queue.ts';
import { withSpan } from '../tracing/index.ts';
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

interface Failure { readonly id: string; readonly error: string }

class Unavailable extends Error {}

export interface BatchProcessor {
  process(claimed: readonly ClaimedRow[], signal: AbortSignal): Promise<ProcessResult>;
  /** Gives back batches that could not be released when they failed (database down); call before claiming. */
  releaseOrphans(): Promise<void>;
}

export function createBatchProcessor(d: BatchProcessorDeps): BatchProcessor {
  let unavailableStreak = 0;
  // Ids of batches that failed while the database was unreachable: released as soon as it is back, so they
  // do not sit out the rest of their lease.
  const orphans = new Set<string>();

  const encodeIsolated = async (rows: readonly DocumentRow[], signal: AbortSignal, failures: Failure[]): Promise<Map<string, Float32Array>> => {
    const out = new Map<string, Float32Array>();
    if (rows.length === 0) return out;
    try {
      const started = performance.now();
      const r = await withSpan('embedsync.encode', { 'embedsync.texts': rows.length }, async (span) => {
        const encoded = await d.encoder.encode(rows.map((x) => x.document), 'document', { signal, source: 'sync' });
        span.setAttributes({ 'embedsync.tokens': encoded.tokens, 'embedsync.truncated': encoded.truncated });
        return encoded;
      });
      d.metrics?.encodeSeconds.observe({ source: 'sync' }, (performance.now() - started) / 1000);
      d.metrics?.tokensTotal.inc(r.tokens);
      d.onEncoded?.(rows.length, r.tokens);
      d.metrics?.truncatedTotal.inc(r.truncated);
      rows.forEach((x, i) => out.set(x.id, r.vectors[i]!));
      return out;
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof EncodeError && err.reason === 'unavailable') throw new Unavailable(err.message, { cause: err });
      if (err instanceof EncodeError && err.reason === 'input' && err.index !== undefined && rows[err.index]) {
        failures.push({ id: rows[err.index]!.id, error: `encode: ${err.message}` });
        const rest = rows.filter((_, i) => i !== err.index);
        for (const [k, v] of await encodeIsolated(rest, signal, failures)) out.set(k, v);
        return out;
      }
      if (rows.length === 1) {
        failures.push({ id: rows[0]!.id, error: `encode: ${errorText(err)}` });
        return out;
      }
      const mid = rows.length >> 1;
      for (const half of [rows.slice(0, mid), rows.slice(mid)]) {
        for (const [k, v] of await encodeIsolated(half, signal, failures)) out.set(k, v);
      }
      return out;
    }
  };

  // Reading can fail for one row too (an EMBEDSYNC_DOCUMENT_SQL expression that errors on some value):
  // data errors are bisected; connection errors propagate so the loop backs off (the rows go back as soon
  // as the database answers again).
  const readIsolated = async (claimed: readonly ClaimedRow[], failures: Failure[]): Promise<DocumentRow[]> => {
    try {
      return await withSpan('embedsync.read', { 'embedsync.rows': claimed.length }, () => d.ops.readDocuments(claimed.map((c) => c.id)));
    } catch (err) {
      if (!isRowDataError(err)) throw err;
      if (claimed.length === 1) {
        failures.push({ id: claimed[0]!.id, error: `read: ${errorText(err)}` });
        return [];
      }
      const mid = claimed.length >> 1;
      return [...await readIsolated(claimed.slice(0, mid), failures), ...await readIsolated(claimed.slice(mid), failures)];
    }
  };

  // A write can fail for one row too (a constraint or a user trigger on the source table).
  const writeIsolated = async (
    items: readonly WriteItem[], finished: readonly string[], claimed: readonly ClaimedRow[], checksum: string, failures: Failure[],
  ): Promise<WriteResult> => {
    try {
      return await withSpan('embedsync.write', { 'embedsync.rows': items.length, 'embedsync.dequeued': finished.length }, async (span) => {
        const result = await d.ops.write(items, finished, claimed, checksum);
        span.setAttributes({ 'embedsync.written': result.written.length });
        return result;
      });
    } catch (err) {
      if (!isRowDataError(err)) throw err;
      if (items.length <= 1) {
        if (items[0]) failures.push({ id: items[0].id, error: `write: ${errorText(err)}` });
        return finished.length ? d.ops.write([], finished, claimed, checksum) : { written: [], dequeued: [], lagSeconds: [] };
      }
      const mid = items.length >> 1;
      const a = await writeIsolated(items.slice(0, mid), finished, claimed, checksum, failures);
      const b = await writeIsolated(items.slice(mid), [], claimed, checksum, failures);
      return { written: [...a.written, ...b.written], dequeued: [...a.dequeued, ...b.dequeued], lagSeconds: [...a.lagSeconds, ...b.lagSeconds] };
    }
  };

  const processBatch = async (claimed: readonly ClaimedRow[], signal: AbortSignal): Promise<ProcessResult> => {
    const checksum = d.encoder.info.checksum;
    const failures: Failure[] = [];
    const docs = await readIsolated(claimed, failures);
    const seen = new Set(docs.map((x) => x.id));
    const failedIds = new Set(failures.map((f) => f.id));
    // Gone from the source (deleted after the claim): nothing to embed, just dequeue.
    const finished = claimed.filter((c) => !seen.has(c.id) && !failedIds.has(c.id)).map((c) => c.id);
    const items: WriteItem[] = [];
    const toEncode: DocumentRow[] = [];
    for (const doc of docs) {
      const upToDate = doc.storedHash === doc.hash && doc.storedChecksum === checksum;
      const blank = doc.document.trim() === '';
      if (upToDate && (blank ? doc.missing : !doc.missing)) finished.push(doc.id);
      else if (blank) items.push({ id: doc.id, hash: doc.hash, vector: null });
      else toEncode.push(doc);
    }

    let vectors: Map<string, Float32Array>;
    try {
      vectors = await encodeIsolated(toEncode, signal, failures);
    } catch (err) {
      if (err instanceof Unavailable || signal.aborted) {
        // Not the rows' fault: give them back untouched; pause longer while the backend stays down.
        await d.ops.release(claimed.map((c) => c.id), d.owner, 0);
        if (signal.aborted) return {};
        unavailableStreak += 1;
        // A remote encoder's circuit breaker knows when its next probe is due: wait for exactly that.
        const retryIn = availabilityOf(d.encoder)?.retryInMs() ?? 0;
        return { pauseMs: retryIn > 0 ? retryIn : Math.min(30_000, 250 * 2 ** Math.min(unavailableStreak - 1, 7)) };
      }
      throw err;
    }
    unavailableStreak = 0;
    for (const doc of toEncode) {
      const v = vectors.get(doc.id);
      if (v) items.push({ id: doc.id, hash: doc.hash, vector: v });
    }

    const result = await writeIsolated(items, finished, claimed, checksum, failures);
    const written = new Set(result.written);
    d.metrics?.rowsEmbedded.inc(items.filter((i) => i.vector !== null && written.has(i.id)).length);
    for (const lag of result.lagSeconds) d.metrics?.changeToEmbeddingSeconds.observe(lag);

    if (failures.length > 0) {
      await d.ops.fail(failures, d.owner, d.maxAttempts, d.retryBaseMs);
      const attempts = new Map(claimed.map((c) => [c.id, c.attempts]));
      for (const f of failures) d.onFailure?.({ ...f, deadLettered: (attempts.get(f.id) ?? 0) + 1 >= d.maxAttempts });
    }
    // Whatever is neither dequeued nor failed changed while we worked (or its write found other text):
    // back to the queue at once, without counting an attempt.
    const dequeued = new Set(result.dequeued);
    const back = claimed.map((c) => c.id).filter((id) => !dequeued.has(id) && !failures.some((f) => f.id === id));
    await d.ops.release(back, d.owner, 0);
    return {};
  };

  const process = async (claimed: readonly ClaimedRow[], signal: AbortSignal): Promise<ProcessResult> => {
    // Renew the lease while the batch is in hand (a third of the way through each lease), so a slow encode
    // is not mistaken for a dead daemon.
    const ids = claimed.map((c) => c.id);
    const renew = setInterval(() => { d.ops.extendLease?.(ids, d.owner, d.leaseSeconds).catch(() => undefined); }, d.leaseSeconds * 1000 / 3);
    // A batch in hand keeps the local encoder free for its database round trips while it is behind on its
    // share, so HTTP runs (which block the JS thread) cannot get between each step of it.
    const letGo = schedulerOf(d.encoder)?.hold('sync');
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

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** SQLSTATE classes that point at one row's data (22 data exception, 23 constraint, 2202E array ...). */
function isRowDataError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23') || code === '42804' || code === 'P0001');
}
