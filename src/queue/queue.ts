// The durable queue's operations, each one statement from sql/ (see the comments there for why each is
// shaped as it is). Texts are rendered once per source; every value is a bind parameter, the source key too:
// queue entries and dead letters of every table share one table, keyed by (source, id).
import { redacted } from '../db/pg-errors.ts';
import type { Queryable } from '../db/pool.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { loadSql, renderSql } from '../db/sql-template.ts';
import { encodeVectorArray } from '../db/vector-binary.ts';

/** Queue lanes, in claim order: live (ordinary application writes) before bulk (everything else). */
export const LANES = ['live', 'bulk'] as const;
export type Lane = (typeof LANES)[number];

export interface ClaimedRow {
  readonly id: string;
  readonly lane: Lane;
  /** Queue version at claim time (bigint as text). */
  readonly version: string;
  readonly attempts: number;
  readonly lastError: string | null;
  /** Claims not yet settled, this one included (more than 1: the process ended while holding the row). */
  readonly claims: number;
}

export interface DocumentRow {
  readonly id: string;
  readonly document: string;
  readonly hash: string;
  /** Needs encoding by the model readDocuments was given (sql-template.ts's unsynced rule, as the sweep uses). */
  readonly unsynced: boolean;
}

export interface WriteItem {
  readonly id: string;
  readonly hash: string;
  /** null for a blank document: embedding NULL with the current checksum, not retried. */
  readonly vector: Float32Array | null;
}

export interface WriteResult {
  readonly written: readonly string[];
  readonly dequeued: readonly string[];
  readonly lagSeconds: readonly number[];
}

export interface LaneStats {
  readonly queued: number;
  /** Age of the lane's oldest change (changed_at: a live edit of a row long in bulk counts from the edit). */
  readonly oldestSeconds: number;
}

export interface QueueStats {
  readonly queued: number;
  readonly leased: number;
  readonly oldestSeconds: number;
  readonly deadlettered: number;
  readonly lanes: Readonly<Record<Lane, LaneStats>>;
}

export interface QueueOps {
  /**
   * Live rows first; `bulkReserve` of the `limit` rows go to bulk rows while there are any (sql/claim.sql).
   * `lanes` 'live': live rows only.
   */
  claim(limit: number, owner: string, leaseSeconds: number, bulkReserve?: number, lanes?: 'all' | 'live'): Promise<ClaimedRow[]>;
  /** `checksum`: the writer's model, which `unsynced` is judged against. */
  readDocuments(ids: readonly string[], checksum: string): Promise<DocumentRow[]>;
  write(items: readonly WriteItem[], finished: readonly string[], claimed: readonly ClaimedRow[], checksum: string): Promise<WriteResult>;
  release(ids: readonly string[], owner: string, delayMs?: number): Promise<number>;
  /** Optional so wrappers that forward a subset keep compiling; without it leases are not renewed. */
  extendLease?(ids: readonly string[], owner: string, leaseSeconds: number): Promise<number>;
  fail(failures: readonly { id: string; error: string }[], owner: string, maxAttempts: number,
    retryBaseMs: number): Promise<{ dead: number; retried: number }>;
  stats(): Promise<QueueStats>;
}

/** Looks up the vector type's oid (needed in the binary array header); it differs per database. */
export async function vectorTypeOid(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ oid: number }>(loadSql('vector-type-oid'));
  return rows[0]!.oid;
}

export function queueOps(db: Queryable, s: SourceSql, vectorOid: number): QueueOps {
  const source = s.sourceKey;
  const q = {
    claim: renderSql('claim', s),
    read: renderSql('read-documents', s),
    write: renderSql('write-embeddings', s),
    release: renderSql('release', s),
    extend: renderSql('extend-lease', s),
    fail: renderSql('fail', s),
    stats: renderSql('queue-stats', s),
  };
  return {
    async claim(limit, owner, leaseSeconds, bulkReserve = 0, lanes = 'all') {
      const { rows } = await db.query<{
        id: string; version: string; attempts: number; last_error: string | null; lane: number; claims: number;
      }>(
        q.claim, [source, limit, owner, leaseSeconds, Math.max(0, Math.min(limit, Math.floor(bulkReserve))), lanes === 'all' ? limit : 0]);
      return rows.map((r) => ({
        id: r.id, lane: LANES[r.lane]!, version: r.version, attempts: r.attempts, lastError: r.last_error, claims: r.claims,
      }));
    },
    async readDocuments(ids, checksum) {
      // Reading and writing evaluate the row's columns (and EMBEDSYNC_DOCUMENT_SQL): their errors may quote
      // row values, so they leave here redacted, on their way to logs and dead letters.
      const { rows } = await db.query<DocumentRow>(q.read, [ids, checksum]).catch(redacted);
      return rows;
    },
    async write(items, finished, claimed, checksum) {
      const { rows } = await db.query<{ id: string; lag_seconds: number | null; written: boolean }>(q.write, [
        source,
        items.map((i) => i.id),
        items.map((i) => i.hash),
        // Binary: a Buffer parameter goes over the wire in binary format, skipping float<->text conversion.
        encodeVectorArray(items.map((i) => i.vector), vectorOid),
        checksum,
        finished,
        claimed.map((c) => c.id),
        claimed.map((c) => c.version),
      ]).catch(redacted);
      const written: string[] = [];
      const dequeued: string[] = [];
      const lagSeconds: number[] = [];
      for (const r of rows) {
        if (r.written) written.push(r.id);
        else {
          dequeued.push(r.id);
          lagSeconds.push(r.lag_seconds ?? 0);
        }
      }
      return { written, dequeued, lagSeconds };
    },
    async release(ids, owner, delayMs = 0) {
      if (ids.length === 0) return 0;
      const r = await db.query(q.release, [source, ids, owner, delayMs]);
      return r.rowCount ?? 0;
    },
    async extendLease(ids, owner, leaseSeconds) {
      if (ids.length === 0) return 0;
      const r = await db.query(q.extend, [source, ids, owner, leaseSeconds]);
      return r.rowCount ?? 0;
    },
    async fail(failures, owner, maxAttempts, retryBaseMs) {
      if (failures.length === 0) return { dead: 0, retried: 0 };
      const { rows } = await db.query<{ dead: number; retried: number }>(q.fail, [
        source, failures.map((f) => f.id), failures.map((f) => f.error.slice(0, 2000)), owner, maxAttempts, retryBaseMs,
      ]);
      return rows[0]!;
    },
    async stats() {
      const { rows } = await db.query<{
        queued: number; leased: number; oldest_seconds: number; deadlettered: number;
        live_queued: number; live_oldest_seconds: number; bulk_queued: number; bulk_oldest_seconds: number;
      }>(q.stats, [source]);
      const r = rows[0]!;
      return {
        queued: r.queued, leased: r.leased, oldestSeconds: r.oldest_seconds, deadlettered: r.deadlettered,
        lanes: {
          live: { queued: r.live_queued, oldestSeconds: r.live_oldest_seconds },
          bulk: { queued: r.bulk_queued, oldestSeconds: r.bulk_oldest_seconds },
        },
      };
    },
  };
}
