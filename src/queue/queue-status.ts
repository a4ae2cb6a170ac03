// The queue figures of status: counted while the queue is small, estimated (and said to be) past
// QUEUE_COUNT_LIMIT entries, where counting them (one pass over the queue) would take status well past
// milliseconds, e.g. with a million rows enqueued by migrate.
import type { Queryable } from '../db/pool.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { INSUFFICIENT_PRIVILEGE, isNotMigrated, sqlState } from '../db/pg-errors.ts';
import { loadSql, renderSql } from '../db/sql-template.ts';
import { queueOps, type QueueStats } from './queue.ts';

/** Up to about this many entries (a few ms to count) the queue is counted. */
export const QUEUE_COUNT_LIMIT = 50_000;

export interface QueueStatus extends QueueStats {
  /** queued (and the bulk lane's) is the statistics' estimate and oldestSeconds the age of the entry due first. */
  readonly estimated: boolean;
  /**
   * Changes in the table's change log, not in the queue yet (a daemon moves them every watch interval), counted up
   * to QUEUE_COUNT_LIMIT + 1; null without the log (a table set up by an earlier version) or the right to read it.
   */
  readonly logged: number | null;
}

/** The entries of the change log of `s` (see QueueStatus.logged). */
export async function changeLogCount(db: Queryable, s: SourceSql): Promise<number | null> {
  try {
    return (await db.query<{ n: number }>(renderSql('changes-count', s), [QUEUE_COUNT_LIMIT])).rows[0]!.n;
  } catch (err) {
    if (isNotMigrated(err) || sqlState(err) === INSUFFICIENT_PRIVILEGE) return null;
    throw err;
  }
}

/** `count`: the exact figures (one pass over the queue); a caller holding its queue operations passes theirs. */
export async function queueStatus(db: Queryable, s: SourceSql, exact: boolean,
  count: () => Promise<QueueStats> = () => queueOps(db, s, 0).stats()): Promise<QueueStatus> {
  const size = exact ? 0 : (await db.query<{ queued: number | null }>(loadSql('queue-size-estimate'), [s.sourceKey])).rows[0]?.queued ?? 0;
  const logged = await changeLogCount(db, s);
  if (size <= QUEUE_COUNT_LIMIT) return { ...await count(), estimated: false, logged };
  const r = (await db.query<{
    leased: number; oldest_seconds: number; deadlettered: number; live_queued: number; live_oldest_seconds: number;
    bulk_oldest_seconds: number;
  }>(loadSql('queue-stats-large'), [s.sourceKey])).rows[0]!;
  const queued = Math.max(Math.round(size), r.live_queued);
  return {
    queued, leased: r.leased, oldestSeconds: r.oldest_seconds, deadlettered: r.deadlettered, estimated: true, logged,
    lanes: {
      live: { queued: r.live_queued, oldestSeconds: r.live_oldest_seconds },
      bulk: { queued: queued - r.live_queued, oldestSeconds: r.bulk_oldest_seconds },
    },
  };
}
