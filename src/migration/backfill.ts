// The `backfilled` step of a model migration (and its catch-up pass before the swap): the new model encodes
// every row unsynced in the shadow columns (vector missing, by another model or of other text), chunk by chunk in
// key order, and writes it through the daemon's own write statement aimed at the shadow columns. A row the new
// model refuses (a remote backend's 4xx for one input, say) does not stop the migration, which would stop at the
// same row on every rerun: its chunk is split until it stands alone, the rest is written, and it is left without a
// shadow vector. After the swap the enqueue pass queues it, and the daemons retry it and dead-letter it with its reason.
import type pg from 'pg';
import type { SourceSql } from '../db/source-sql.ts';
import { renderSql } from '../db/sql-template.ts';
import { EncodeError, type Encoder } from '../encoder/types.ts';
import { isolateFailures } from '../lib/isolate-failures.ts';
import { nextPieces, suspectRecord } from './backfill-suspects.ts';
import type { DocumentRow, WriteItem } from '../queue/queue.ts';
import { chunkedQueueOps } from '../queue/chunk-write.ts';
import { chunkingEncoder } from '../encoder/chunking-encoder.ts';

export interface BackfillProgress {
  readonly scanned: number;
  readonly encoded: number;
  readonly total: number;
}

export interface BackfillOptions {
  readonly client: pg.Client;
  /** The new model. */
  readonly encoder: Encoder;
  readonly vectorOid: number;
  readonly chunkSize?: number;
  readonly signal?: AbortSignal;
  readonly onBackfill?: (p: BackfillProgress) => void;
  /** A run ended while encoding rows `ids` (`ends` times with exactly them): told before they are settled. */
  readonly onSuspects?: (ids: readonly string[], ends: number) => void;
}

/** A row the new model could not encode, and why. */
export interface RefusedRow {
  readonly id: string;
  readonly error: string;
}

export interface BackfillResult {
  readonly encoded: number;
  readonly encodeSeconds: number;
  /** Rows left without a shadow vector because the new model refused them. */
  readonly refused: readonly RefusedRow[];
  /** Rows dead-lettered because runs ended while encoding them alone (backfill-suspects.ts). */
  readonly buried: readonly RefusedRow[];
}

/**
 * Encodes every row of `nextSql`'s (shadow) columns that is unsynced for the new model; `firstWrite` runs once, after the
 * first chunk that encoded something.
 */
export async function backfillShadow(o: BackfillOptions, nextSql: SourceSql, firstWrite?: () => Promise<void>): Promise<BackfillResult> {
  const { client } = o;
  // A chunked table's backfill writes the new model's chunks too (beside the old model's, until the swap).
  const encoder = chunkingEncoder(o.encoder, nextSql.chunking);
  const checksum = encoder.info.checksum;
  const text = renderSql('backfill-chunk', nextSql);
  const ops = chunkedQueueOps(client, nextSql, o.vectorOid);
  const record = suspectRecord(client, nextSql.sourceKey, checksum);
  const total = Number((await client.query<{ n: string }>(renderSql('row-count', nextSql))).rows[0]!.n);
  const chunk = o.chunkSize ?? 256;
  let encoded = 0;
  let encodeSeconds = 0;
  let hook = firstWrite;
  const refused: RefusedRow[] = [];
  const buried: RefusedRow[] = [];
  const found = await record.read();
  const skipped = new Set(found.skipped);

  // Encodes and writes the unsynced rows of `rows`, holding them in the record meanwhile (`ends`: runs that
  // already ended holding exactly them).
  const put = async (rows: readonly DocumentRow[], ends: number) => {
    const unsynced = rows.filter((r) => r.unsynced && !skipped.has(r.id));
    if (unsynced.length === 0) return;
    const docs = unsynced.filter((r) => r.document.trim() !== '');
    if (docs.length > 0) await record.hold(docs.map((r) => r.id), ends);
    let byId: Map<string, Float32Array>;
    try {
      const t0 = performance.now();
      byId = await encodeIsolated(encoder, docs, o.signal, (r) => refused.push(r));
      encodeSeconds += (performance.now() - t0) / 1000;
      // A refused row is not written: a NULL vector would say "blank document".
      const items: WriteItem[] = unsynced.filter((r) => r.document.trim() === '' || byId.has(r.id))
        .map((r) => ({ id: r.id, hash: r.hash, vector: byId.get(r.id) ?? null }));
      // The write re-checks each row's text hash, so a row edited meanwhile is skipped (and caught by the
      // catch-up pass or the daemon), never given a vector of text it no longer has.
      await ops.write(items, [], [], checksum);
    } catch (err) {
      // A failure that did not end the process (a backend down, Ctrl-C) says nothing against these rows.
      if (docs.length > 0) await record.hold(null, 0).catch(() => undefined);
      throw err;
    }
    if (docs.length > 0) await record.hold(null, 0);
    encoded += byId.size;
    if (hook && encoded > 0) {
      const f = hook;
      hook = undefined;
      await f();
    }
  };

  // Rows a run held when it ended: in halves down to one row, before anything else (backfill-suspects.ts).
  const settle = async (ids: readonly string[], ends: number): Promise<void> => {
    const pieces = nextPieces(ids, ends);
    if (!pieces) {
      const error = `the process ended while the new model encoded this row ${ends} times (migrate's backfill)`;
      await record.bury(ids[0]!, ends, error);
      skipped.add(ids[0]!);
      buried.push({ id: ids[0]!, error });
      return;
    }
    // The daemon's read of claimed ids, aimed at the shadow columns like backfill-chunk.
    const rowsText = renderSql('read-documents', nextSql);
    for (const piece of pieces) {
      o.signal?.throwIfAborted();
      const { rows } = await client.query<DocumentRow>(rowsText, [piece, checksum]);
      await put(rows, pieces.length === 1 ? ends : 0);
    }
  };
  if (found.inHand.length > 0) {
    o.onSuspects?.(found.inHand, found.ends);
    await settle(found.inHand, found.ends);
    // Rows deleted or embedded since leave nothing to hold: the record must not blame them on the next run.
    await record.hold(null, 0);
  }

  let last: string | null = null;
  let scanned = 0;
  for (;;) {
    o.signal?.throwIfAborted();
    const { rows }: { rows: DocumentRow[] } = await client.query<DocumentRow>(text, [last, chunk, checksum]);
    if (rows.length === 0) break;
    last = rows[rows.length - 1]!.id;
    scanned += rows.length;
    await put(rows, 0);
    if (refused.length > refusedLimit(total)) throw new TooManyRefusedError(refused, total);
    o.onBackfill?.({ scanned, encoded, total });
    if (rows.length < chunk) break;
  }
  return { encoded, encodeSeconds, refused, buried };
}

/** More refusals than this are the model's or the backend's doing, not a few bad rows: the migration stops. */
export function refusedLimit(total: number): number {
  return Math.max(10, Math.floor(total / 100));
}

export class TooManyRefusedError extends Error {
  constructor(readonly refused: readonly RefusedRow[], total: number) {
    super(`the new model refused ${refused.length} of ${total} rows (more than 1%, so not a few bad rows; first: id ` +
      `${refused[0]!.id}, ${refused[0]!.error}): nothing was swapped; fix the cause and run migrate again, it resumes`);
    this.name = 'TooManyRefusedError';
  }
}

/**
 * Vectors by row id. An input the backend refuses is split down to its row (reported, left out); any
 * other failure ends the backfill as before, to be resumed by the next run.
 */
async function encodeIsolated(encoder: Encoder, docs: readonly DocumentRow[], signal: AbortSignal | undefined,
  onRefused: (r: RefusedRow) => void): Promise<Map<string, Float32Array>> {
  if (docs.length === 0) return new Map();
  return isolateFailures<DocumentRow, Map<string, Float32Array>>(docs, {
    attempt: async (piece) => {
      const { vectors } = await encoder.encode(piece.map((r) => r.document), 'document', signal ? { signal } : {});
      return new Map(piece.map((r, i) => [r.id, vectors[i]!]));
    },
    // Only what the backend says is the input's fault: any other failure (a broken model, a timeout) would
    // refuse every row alone, so it ends the backfill as before.
    isolates: (err) => !signal?.aborted && err instanceof EncodeError && err.reason === 'input',
    blame: (err) => (err instanceof EncodeError && err.reason === 'input' ? err.index : undefined),
    failed: (row, err) => {
      onRefused({ id: row.id, error: `encode: ${err instanceof Error ? err.message : String(err)}` });
      return new Map();
    },
    join: (parts) => new Map(parts.flatMap((p) => [...p])),
  });
}
