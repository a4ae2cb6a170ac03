// Reconciliation: walks the whole source by primary key in chunks and enqueues rows whose embedding is
// missing, from another model, or from other text. migrate runs it once as the backfill; the daemon runs
// it every EMBEDSYNC_SWEEP_INTERVAL_MS as a backstop for anything the triggers could not see.
import type { Queryable } from '../db/pool.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { renderSql } from '../db/sql-template.ts';

export interface SweepProgress {
  readonly scanned: number;
  readonly enqueued: number;
}

export interface SweepOptions {
  readonly chunkSize?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: SweepProgress) => void;
}

export async function enqueueStale(db: Queryable, s: SourceSql, checksum: string, o: SweepOptions = {}): Promise<SweepProgress> {
  const text = renderSql('enqueue-stale', s);
  let last: string | null = null;
  let scanned = 0;
  let enqueued = 0;
  for (;;) {
    if (o.signal?.aborted) break;
    const res: { rows: { last_id: string | null; scanned: number; enqueued: number }[] } = await db.query(text, [last, checksum, o.chunkSize ?? 5000, s.sourceKey]);
    const r = res.rows[0]!;
    scanned += r.scanned;
    enqueued += r.enqueued;
    o.onProgress?.({ scanned, enqueued });
    if (r.last_id === null) break;
    last = r.last_id;
  }
  // One wake-up for running daemons (the sweep's INSERTs bypass the source triggers).
  if (enqueued > 0) await db.query("SELECT pg_notify('embedsync', $1)", [String(enqueued)]);
  return { scanned, enqueued };
}
