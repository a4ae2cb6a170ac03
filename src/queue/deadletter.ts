// Inspecting and replaying dead letters. Replay moves rows back to the queue with a fresh attempt count
// (an id whose source row is gone meanwhile is simply dequeued by the daemon).
import type { Queryable } from '../db/pool.ts';
import { loadSql } from '../db/sql-template.ts';

export interface DeadLetter {
  readonly id: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly enqueuedAt: Date;
  readonly failedAt: Date;
}

/** Dead letters of one source ("schema.table", the key of embedsync.state). */
export async function listDeadLetters(db: Queryable, source: string, limit = 100): Promise<DeadLetter[]> {
  const { rows } = await db.query<{ id: string; attempts: number; last_error: string | null; enqueued_at: Date; failed_at: Date }>(
    loadSql('deadletter-list'), [source, limit]);
  return rows.map((r) => ({ id: r.id, attempts: r.attempts, lastError: r.last_error, enqueuedAt: r.enqueued_at, failedAt: r.failed_at }));
}

/** Moves the given ids (all when undefined) back to the queue; returns how many. */
export async function retryDeadLetters(db: Queryable, source: string, ids?: readonly string[]): Promise<number> {
  const { rows } = await db.query<{ n: number }>(loadSql('deadletter-retry'), [source, ids ?? null]);
  const n = rows[0]!.n;
  if (n > 0) await db.query(loadSql('notify'), [String(n)]);
  return n;
}
