// The three steps of a batch that touch its rows (read, encode, write), each tried on the whole batch first
// and split by isolateFailures when one row may be at fault, so one bad row never blocks the others: its
// failure is collected and the rest go on.
import { isRowDataError } from '../db/pg-errors.ts';
import { EncodeError, type EncodePriority, type Encoder } from '../encoder/types.ts';
import { isolateFailures } from '../lib/isolate-failures.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ClaimedRow, DocumentRow, QueueOps, WriteItem, WriteResult } from '../queue/queue.ts';
import { withSpan } from '../tracing/index.ts';

export interface Failure { readonly id: string; readonly error: string }

/** The encoder backend is unavailable (a remote encoder down): nobody's fault, the rows go back untouched. */
export class Unavailable extends Error {}

export interface StepDeps {
  readonly ops: QueueOps;
  readonly encoder: Encoder;
  readonly metrics?: Metrics | undefined;
  /** Told the rows and tokens of every encoded batch (claim sizing). */
  readonly onEncoded?: ((rows: number, tokens: number) => void) | undefined;
}

// Reading can fail for one row too (an EMBEDSYNC_DOCUMENT_SQL expression that errors on some value):
// data errors are bisected; connection errors propagate so the loop backs off (the rows go back as soon
// as the database answers again).
export function readDocuments(d: StepDeps, claimed: readonly ClaimedRow[], checksum: string, failures: Failure[]): Promise<DocumentRow[]> {
  return isolateFailures(claimed, {
    attempt: (piece) => withSpan('embedsync.read', { 'embedsync.rows': piece.length }, () => d.ops.readDocuments(piece.map((c) => c.id), checksum)),
    isolates: isRowDataError,
    failed: (c, err) => {
      failures.push({ id: c.id, error: `read: ${errorText(err)}` });
      return [];
    },
    join: (parts) => parts.flat(),
  });
}

/**
 * Vectors by row id. An input error that names its index fails just that row; any other failure of several
 * rows is bisected. Throws Unavailable when the backend is down, and whatever ended it when `signal` aborted.
 */
export async function encodeDocuments(d: StepDeps, rows: readonly DocumentRow[], signal: AbortSignal, failures: Failure[], priority: EncodePriority = 'bulk'): Promise<Map<string, Float32Array>> {
  if (rows.length === 0) return new Map();
  try {
    return await isolateFailures(rows, {
      attempt: (piece) => encodeOnce(d, piece, signal, priority),
      isolates: (err) => !signal.aborted && !isUnavailable(err),
      blame: (err) => (err instanceof EncodeError && err.reason === 'input' ? err.index : undefined),
      failed: (row, err) => {
        failures.push({ id: row.id, error: `encode: ${errorText(err)}` });
        return new Map();
      },
      join: (parts) => new Map(parts.flatMap((p) => [...p])),
    });
  } catch (err) {
    if (!signal.aborted && isUnavailable(err)) throw new Unavailable((err as Error).message, { cause: err });
    throw err;
  }
}

async function encodeOnce(d: StepDeps, rows: readonly DocumentRow[], signal: AbortSignal, priority: EncodePriority): Promise<Map<string, Float32Array>> {
  const started = performance.now();
  const r = await withSpan('embedsync.encode', { 'embedsync.texts': rows.length }, async (span) => {
    const encoded = await d.encoder.encode(rows.map((x) => x.document), 'document', { signal, source: 'sync', priority });
    span.setAttributes({ 'embedsync.tokens': encoded.tokens, 'embedsync.truncated': encoded.truncated });
    return encoded;
  });
  d.metrics?.encodeSeconds.observe({ source: 'sync' }, (performance.now() - started) / 1000);
  d.metrics?.tokensTotal.inc(r.tokens);
  d.onEncoded?.(rows.length, r.tokens);
  d.metrics?.truncatedTotal.inc(r.truncated);
  return new Map(rows.map((x, i) => [x.id, r.vectors[i]!]));
}

const NOTHING_WRITTEN: WriteResult = { written: [], dequeued: [], lagSeconds: [] };

/**
 * Writes vectors and dequeues `finished` in one statement. A write can fail for one row too (a constraint or
 * a user trigger on the source table): such failures are bisected; `finished` goes with the first piece.
 */
export function writeVectors(
  d: StepDeps, items: readonly WriteItem[], finished: readonly string[], claimed: readonly ClaimedRow[], checksum: string, failures: Failure[],
): Promise<WriteResult> {
  return isolateFailures(items, {
    attempt: (piece, at) => {
      const dequeue = at === 0 ? finished : [];
      return withSpan('embedsync.write', { 'embedsync.rows': piece.length, 'embedsync.dequeued': dequeue.length }, async (span) => {
        const result = await d.ops.write(piece, dequeue, claimed, checksum);
        span.setAttributes({ 'embedsync.written': result.written.length });
        return result;
      });
    },
    isolates: isRowDataError,
    failed: (item, err, at) => {
      failures.push({ id: item.id, error: `write: ${errorText(err)}` });
      return at === 0 && finished.length ? d.ops.write([], finished, claimed, checksum) : NOTHING_WRITTEN;
    },
    join: (parts) => ({
      written: parts.flatMap((p) => p.written),
      dequeued: parts.flatMap((p) => p.dequeued),
      lagSeconds: parts.flatMap((p) => p.lagSeconds),
    }),
  });
}

function isUnavailable(err: unknown): boolean {
  return err instanceof EncodeError && err.reason === 'unavailable';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
