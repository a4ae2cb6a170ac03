// Inspecting and replaying dead letters. Replay moves rows back to the queue with a fresh attempt count
// (an id whose source row is gone meanwhile is simply dequeued by the daemon).
import type { Queryable } from '../db/pool.ts';

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
    'SELECT id, attempts, last_error, enqueued_at, failed_at FROM embedsync.deadletter WHERE source = $2 ORDER BY failed_at DESC, id LIMIT $1',
    [limit, source]);
  return rows.map((r) => ({ id: r.id, attempts: r.attempts, lastError: r.last_error, enqueuedAt: r.enqueued_at, failedAt: r.failed_at }));
}

/** Moves the given ids (all when undefined) back to the queue; returns how many. */
export async function retryDeadLetters(db: Queryable, source: string, ids?: readonly string[]): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH moved AS (
       DELETE FROM embedsync.deadletter WHERE source = $2 AND ($1::text[] IS NULL OR id = ANY ($1::text[]))
       RETURNING source, id, enqueued_at, last_error
     ), requeued AS (
       INSERT INTO embedsync.queue AS q (source, id, enqueued_at, last_error)
       SELECT source, id, enqueued_at, last_error FROM moved
       ON CONFLICT (source, id) DO UPDATE SET attempts = 0, next_attempt_at = now(), lease_owner = NULL
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM requeued)::int AS n`, [ids ?? null, source]);
  const n = rows[0]!.n;
  if (n > 0) await db.query("SELECT pg_notify('embedsync', $1)", [String(n)]);
  return n;
}
