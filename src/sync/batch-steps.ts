// The three steps of a batch that touch its rows (read, encode, write), each tried on the whole batch first
// and split by isolateFailures when one row may be at fault, so one bad row never blocks the others. Each step
// returns its outcome: what it made of the rows that went through, and the rows that failed, with why.
import { isRowDataError } from '../db/pg-errors.ts';
import { EncodeError, type EncodePriority, type Encoder } from '../encoder/types.ts';
import { isolateFailures } from '../lib/isolate-failures.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ClaimedRow, DocumentRow, WriteItem, WriteResult } from '../queue/queue.ts';
import type { BatchTarget } from '../queue/write-target.ts';
import { withSpan } from '../tracing/index.ts';

export interface Failure { readonly id: string; readonly error: string }

/** A row's failure as the daemon reports it: dead-lettered, or to be retried. */
export interface RowFailure extends Failure { readonly deadLettered: boolean }

/** What a step made of the rows that went through (`value`), and the rows that failed in it. */
export interface StepOutcome<T> {
  readonly value: T;
  readonly failures: readonly Failure[];
}

/** A row that failed alone in a step: nothing made of it, and its failure. */
function failedRow<T>(empty: T, id: string, error: string): StepOutcome<T> {
  return { value: empty, failures: [{ id, error }] };
}

/** The outcomes of pieces of a batch as one: values joined by `join`, failures in batch order. */
function joined<T>(parts: readonly StepOutcome<T>[], join: (values: readonly T[]) => T): StepOutcome<T> {
  return { value: join(parts.map((p) => p.value)), failures: parts.flatMap((p) => p.failures) };
}

/** The encoder backend is unavailable (a remote encoder down): nobody's fault, the rows go back untouched. */
export class Unavailable extends Error {}

/** What the encode step needs besides its rows: the encoder, and where to report what it did. */
export interface EncodeDeps {
  readonly encoder: Encoder;
  readonly metrics?: Metrics | undefined;
  /** Told the rows and tokens of every encoded batch (claim sizing). */
  readonly onEncoded?: ((rows: number, tokens: number) => void) | undefined;
}

// Reading can fail for one row too (an EMBEDSYNC_DOCUMENT_SQL expression that errors on some value):
// data errors are bisected; connection errors propagate so the loop backs off (the rows go back as soon
// as the database answers again).
export function readDocuments(target: BatchTarget, claimed: readonly ClaimedRow[], checksum: string): Promise<StepOutcome<DocumentRow[]>> {
  return isolateFailures<ClaimedRow, StepOutcome<DocumentRow[]>>(claimed, {
    attempt: async (piece) => {
      const ids = piece.map((c) => c.id);
      const value = await withSpan('embedsync.read', { 'embedsync.rows': piece.length }, () => target.readDocuments(ids, checksum));
      return { value, failures: [] };
    },
    isolates: isRowDataError,
    failed: (c, err) => failedRow([], c.id, `read: ${errorText(err)}`),
    join: (parts) => joined(parts, (values) => values.flat()),
  });
}

/**
 * Vectors by row id. An input error that names its index fails just that row; any other failure of several
 * rows is bisected. Throws Unavailable when the backend is down, and whatever ended it when `signal` aborted.
 */
export async function encodeDocuments(
  d: EncodeDeps, rows: readonly DocumentRow[], signal: AbortSignal, priority: EncodePriority = 'bulk',
): Promise<StepOutcome<Map<string, Float32Array>>> {
  if (rows.length === 0) return { value: new Map(), failures: [] };
  try {
    return await isolateFailures<DocumentRow, StepOutcome<Map<string, Float32Array>>>(rows, {
      attempt: async (piece) => ({ value: await encodeOnce(d, piece, signal, priority), failures: [] }),
      isolates: (err) => !signal.aborted && !isUnavailable(err),
      blame: (err) => (err instanceof EncodeError && err.reason === 'input' ? err.index : undefined),
      failed: (row, err) => failedRow(new Map(), row.id, `encode: ${errorText(err)}`),
      join: (parts) => joined(parts, (values) => new Map(values.flatMap((v) => [...v]))),
    });
  } catch (err) {
    if (!signal.aborted && isUnavailable(err)) throw new Unavailable((err as Error).message, { cause: err });
    throw err;
  }
}

async function encodeOnce(d: EncodeDeps, rows: readonly DocumentRow[], signal: AbortSignal,
  priority: EncodePriority): Promise<Map<string, Float32Array>> {
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

function joinWrites(parts: readonly WriteResult[]): WriteResult {
  return {
    written: parts.flatMap((p) => p.written),
    dequeued: parts.flatMap((p) => p.dequeued),
    lagSeconds: parts.flatMap((p) => p.lagSeconds),
  };
}

/**
 * Writes vectors and dequeues `finished` in one statement. A write can fail for one row too (a constraint or
 * a user trigger on the source table): such failures are bisected; `finished` goes with the first piece.
 */
export function writeVectors(
  target: BatchTarget, items: readonly WriteItem[], finished: readonly string[], claimed: readonly ClaimedRow[], checksum: string,
): Promise<StepOutcome<WriteResult>> {
  return isolateFailures<WriteItem, StepOutcome<WriteResult>>(items, {
    attempt: async (piece, at) => {
      const dequeue = at === 0 ? finished : [];
      const value = await withSpan('embedsync.write', {
        'embedsync.rows': piece.length, 'embedsync.dequeued': dequeue.length,
      }, async (span) => {
        const result = await target.write(piece, dequeue, claimed, checksum);
        span.setAttributes({ 'embedsync.written': result.written.length });
        return result;
      });
      return { value, failures: [] };
    },
    isolates: isRowDataError,
    failed: async (item, err, at) => {
      const rest = at === 0 && finished.length ? await target.write([], finished, claimed, checksum) : NOTHING_WRITTEN;
      return failedRow(rest, item.id, `write: ${errorText(err)}`);
    },
    join: (parts) => joined(parts, joinWrites),
  });
}

function isUnavailable(err: unknown): boolean {
  return err instanceof EncodeError && err.reason === 'unavailable';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
