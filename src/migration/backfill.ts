// The `backfilled` step of a model migration (and its catch-up pass before the swap): the new model encodes
// every row unsynced in the shadow columns (vector missing, by another model or of other text), chunk by chunk in
// key order, and writes it through the daemon's own write statement aimed at the shadow columns.
import type pg from 'pg';
import type { SourceSql } from '../db/source-sql.ts';
import { renderSql } from '../db/sql-template.ts';
import type { Encoder } from '../encoder/types.ts';
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
}

export interface BackfillResult {
  readonly encoded: number;
  readonly encodeSeconds: number;
}

/**
 * Encodes every row of `nextSql`'s (shadow) columns that is unsynced for the new model; `firstWrite` runs once, after the
 * first chunk that encoded something.
 */
export async function backfillShadow(o: BackfillOptions, nextSql: SourceSql, firstWrite?: () => Promise<void>): Promise<BackfillResult> {
  const { client } = o;
  // A chunked table's backfill writes the new model's chunks too (beside the old model's, until the swap).
  const encoder = chunkingEncoder(o.encoder, nextSql.chunking);
  const text = renderSql('backfill-chunk', nextSql);
  const ops = chunkedQueueOps(client, nextSql, o.vectorOid);
  const total = Number((await client.query<{ n: string }>(renderSql('row-count', nextSql))).rows[0]!.n);
  const chunk = o.chunkSize ?? 256;
  let last: string | null = null;
  let scanned = 0;
  let encoded = 0;
  let encodeSeconds = 0;
  let hook = firstWrite;
  for (;;) {
    o.signal?.throwIfAborted();
    const { rows }: { rows: DocumentRow[] } = await client.query<DocumentRow>(text, [last, chunk, encoder.info.checksum]);
    if (rows.length === 0) break;
    last = rows[rows.length - 1]!.id;
    scanned += rows.length;
    const unsynced = rows.filter((r) => r.unsynced);
    const docs = unsynced.filter((r) => r.document.trim() !== '');
    if (unsynced.length > 0) {
      const t0 = performance.now();
      const vectors = docs.length
        ? (await encoder.encode(docs.map((r) => r.document), 'document', o.signal ? { signal: o.signal } : {})).vectors
        : [];
      encodeSeconds += (performance.now() - t0) / 1000;
      const byId = new Map(docs.map((r, i) => [r.id, vectors[i]!]));
      const items: WriteItem[] = unsynced.map((r) => ({ id: r.id, hash: r.hash, vector: byId.get(r.id) ?? null }));
      // The write re-checks each row's text hash, so a row edited meanwhile is skipped (and caught by the
      // catch-up pass or the daemon), never given a vector of text it no longer has.
      await ops.write(items, [], [], encoder.info.checksum);
      encoded += docs.length;
      if (hook && encoded > 0) {
        const f = hook;
        hook = undefined;
        await f();
      }
    }
    o.onBackfill?.({ scanned, encoded, total });
    if (rows.length < chunk) break;
  }
  return { encoded, encodeSeconds };
}
