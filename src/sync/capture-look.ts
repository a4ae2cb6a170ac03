// The watch's look at a table with logical capture (src/db/logical-capture.ts): the slot's next changes, decoded
// (pgoutput), their ids queued where the document changed (sql/capture-enqueue.sql), then the slot moved past
// them. Lanes by transaction: one that changed more than EMBEDSYNC_BULK_ROWS rows of the table is bulk, as a
// statement of that size would be. One daemon reads a slot at a time (a session advisory lock); the others' looks
// find it taken and leave it. At least once: a daemon that stops between queueing and moving the slot leaves the
// changes to the next look, which queues them again (a no-op for rows already queued or embedded since).
import type pg from 'pg';
import type { CaptureNames } from '../db/logical-capture.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { loadSql, renderSql } from '../db/sql-template.ts';
import { unquoteIdent } from '../db/quote.ts';
import { parsePgOutput } from '../queue/pgoutput.ts';

export interface CaptureLookOptions {
  readonly pool: pg.Pool;
  readonly sql: SourceSql;
  readonly names: CaptureNames;
  readonly bulkRows: number;
  /** The model whose vectors count as current (the unsynced rule). */
  readonly checksum: string;
  /** Changes read per look, at most (whole transactions: a larger one is read whole). */
  readonly maxChanges?: number;
}

export interface CaptureLookResult {
  /** false: another daemon is reading the slot. */
  readonly read: boolean;
  readonly changes: number;
  readonly enqueued: number;
  readonly lane: 'live' | 'bulk' | undefined;
}

export function createCaptureLook(o: CaptureLookOptions): () => Promise<CaptureLookResult> {
  const enqueueSql = renderSql('capture-enqueue', o.sql);
  const idColumn = unquoteIdent(o.sql.id);
  return async () => {
    const c = await o.pool.connect();
    try {
      if (!(await c.query<{ ok: boolean }>(loadSql('capture-lock'), [o.names.slot])).rows[0]!.ok) {
        return { read: false, changes: 0, enqueued: 0, lane: undefined };
      }
      try {
        const { rows } = await c.query<{ lsn: string; data: Buffer }>(loadSql('capture-peek'),
          [o.names.slot, o.maxChanges ?? 10_000, o.names.publication]);
        if (rows.length === 0) return { read: true, changes: 0, enqueued: 0, lane: undefined };
        const idAt = new Map<number, number>();
        const lanes = new Map<string, number>();
        let txn: string[] = [];
        let lastCommit: string | undefined;
        for (const row of rows) {
          const m = parsePgOutput(row.data);
          if (m.kind === 'relation') idAt.set(m.relid, m.columns.indexOf(idColumn));
          else if (m.kind === 'begin') txn = [];
          else if (m.kind === 'insert' || m.kind === 'update') {
            const id = m.values[idAt.get(m.relid) ?? -1];
            if (typeof id === 'string') txn.push(id);
          } else if (m.kind === 'commit') {
            const lane = txn.length > o.bulkRows ? 1 : 0;
            for (const id of txn) lanes.set(id, Math.min(lanes.get(id) ?? 1, lane));
            txn = [];
            lastCommit = row.lsn;
          }
        }
        let enqueued = 0;
        let lane: 'live' | 'bulk' | undefined;
        if (lanes.size > 0) {
          const ids = [...lanes.keys()];
          const r = await c.query<{ lane: number }>(enqueueSql, [o.sql.sourceKey, ids, ids.map((id) => lanes.get(id)!), o.checksum]);
          enqueued = r.rowCount ?? 0;
          if (enqueued > 0) lane = r.rows.some((x) => x.lane === 0) ? 'live' : 'bulk';
        }
        if (lastCommit) await c.query(loadSql('capture-advance'), [o.names.slot, lastCommit]);
        return { read: true, changes: rows.length, enqueued, lane };
      } finally {
        await c.query(loadSql('capture-unlock'), [o.names.slot]);
      }
    } finally {
      c.release();
    }
  };
}
