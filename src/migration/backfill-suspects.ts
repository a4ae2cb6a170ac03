// Rows that may end migrate's process during a shadow migration's backfill (a native crash in ONNX Runtime, an
// out-of-memory kill): the backfill runs in migrate itself, so such a row would end every rerun at the same chunk.
// The rows in hand are recorded before each encode and cleared once written (embedsync.backfill_suspects): a run
// that finds rows left over knows a run ended while encoding them, and encodes them in halves, down to one row.
// A row that ends a run alone ALONE_ENDS times is dead-lettered and skipped by the rest of the migration; an
// innocent row never ends a run alone, so only the bad row is taken out (the daemons do the same: src/sync/suspects.ts).
import type { Queryable } from '../db/pool.ts';
import { loadSql } from '../db/sql-template.ts';

/** Ends of a run with one row alone in hand after which that row is dead-lettered. */
export const ALONE_ENDS = 2;

export interface Suspects {
  /** Rows a run held when it ended, and how many runs ended holding exactly them (this one included). */
  readonly inHand: readonly string[];
  readonly ends: number;
  /** Rows dead-lettered for ending runs alone. */
  readonly skipped: readonly string[];
}

export interface SuspectRecord {
  read(): Promise<Suspects>;
  /** Before an encode: these rows, which `ends` runs already ended holding; null once they are written. */
  hold(ids: readonly string[] | null, ends: number): Promise<void>;
  /** Dead-letters a row that ended `ends` runs alone, with the reason, and skips it from now on. */
  bury(id: string, ends: number, reason: string): Promise<void>;
}

export function suspectRecord(db: Queryable, sourceKey: string, checksum: string): SuspectRecord {
  return {
    async read() {
      const r = (await db.query<{ in_hand: string[] | null; ends: number; skipped: string[] }>(loadSql('backfill-suspects'),
        [sourceKey, checksum])).rows[0];
      return r?.in_hand?.length
        ? { inHand: r.in_hand, ends: r.ends + 1, skipped: r.skipped }
        : { inHand: [], ends: 0, skipped: r?.skipped ?? [] };
    },
    async hold(ids, ends) {
      await db.query(loadSql('backfill-hold'), [sourceKey, checksum, ids, ends]);
    },
    async bury(id, ends, reason) {
      await db.query(loadSql('backfill-skip'), [sourceKey, checksum, id, ends, reason]);
    },
  };
}

/** How a batch that ended `ends` runs is encoded next: halves, or the row alone again; null: dead-letter it. */
export function nextPieces(ids: readonly string[], ends: number): readonly (readonly string[])[] | null {
  if (ids.length === 1) return ends >= ALONE_ENDS ? null : [ids];
  const mid = Math.ceil(ids.length / 2);
  return [ids.slice(0, mid), ids.slice(mid)];
}
