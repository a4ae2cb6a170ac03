// The change log: the INSERT and UPDATE triggers record changed ids in embedsync.<stem>_changes, a heap with no
// index (one cheap insert in the application's transaction; sql/source-install.sql says why), and the daemons'
// watch moves them into the queue every EMBEDSYNC_WATCH_INTERVAL_MS (sql/changes-drain.sql), one daemon at a time.
import pg from 'pg';
import { INSUFFICIENT_PRIVILEGE, sqlState } from '../db/pg-errors.ts';
import { quoteIdent } from '../db/quote.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { loadSql, renderSql } from '../db/sql-template.ts';

/** The change log of the source with name stem `stem`, schema-qualified and quoted (source-install.sql's {{name:changes}}). */
export function changeLogName(stem: string): string {
  return `embedsync.${quoteIdent(`${stem}_changes`)}`;
}

export interface Drained {
  /** Queue rows written (new or coalesced), and the most urgent lane among them. */
  readonly enqueued: number;
  readonly lane: 'live' | 'bulk' | undefined;
}

/** Entries moved per transaction: a bulk UPDATE's million entries go in parts of this size. */
const PAGE = 10_000;
/** A drain this large leaves that many dead entries: vacuum the log at once instead of waiting for autovacuum. */
const VACUUM_AFTER = 10_000;

interface DrainRow { taken: number; enqueued: number; lane: number | null; bulk: string[] }

/**
 * Moves the log of `s` into the queue until it is empty, or returns at once when another daemon is moving it.
 * Rows of statements that changed more than `bulkRows` rows go to the bulk lane. `db`: a pool (one of its
 * connections holds the lock for the drain) or a connection outside a transaction. `signal`: stop after the part in
 * flight (what is left stays in the log).
 */
export async function drainChanges(db: pg.Pool | pg.Client, s: SourceSql, bulkRows: number, signal?: AbortSignal): Promise<Drained> {
  const c = db instanceof pg.Pool ? await db.connect() : db;
  try {
    if (!(await c.query<{ ok: boolean }>(loadSql('changes-lock'), [s.sourceKey])).rows[0]!.ok) {
      return { enqueued: 0, lane: undefined };
    }
    try {
      return await drainLocked(c, s, bulkRows, signal);
    } catch (err) {
      // A daemon role without the grant on a log that an upgrade's migrate added: say which, and how.
      if (sqlState(err) !== INSUFFICIENT_PRIVILEGE) throw err;
      throw new Error(`moving the change log ${changeLogName(s.stem)} into the queue failed: ${(err as Error).message} ` +
        '(the daemon\'s role needs SELECT and DELETE on it: docs/security.md)', { cause: err });
    } finally {
      await c.query(loadSql('changes-unlock'), [s.sourceKey]);
    }
  } finally {
    if (c !== db) (c as pg.PoolClient).release();
  }
}

async function drainLocked(c: pg.ClientBase, s: SourceSql, bulkRows: number, signal: AbortSignal | undefined): Promise<Drained> {
  const text = renderSql('changes-drain', s);
  let enqueued = 0;
  let taken = 0;
  let lane: number | undefined;
  // Statements found bulk in the part before: their rows in the next part are bulk whatever their number there.
  let bulk: string[] = [];
  for (;;) {
    const r = (await c.query<DrainRow>(text, [s.sourceKey, PAGE, bulkRows, bulk])).rows[0]!;
    bulk = r.bulk;
    taken += r.taken;
    enqueued += r.enqueued;
    if (r.lane !== null) lane = Math.min(lane ?? 1, r.lane);
    // A stopping daemon ends after the part in flight (a bulk UPDATE's log can take minutes); the next look goes on.
    if (r.taken < PAGE || signal?.aborted) break;
  }
  // SKIP_LOCKED: a vacuum already running will do. A daemon role that does not own the log gets a warning from
  // the server (not an error), and autovacuum does it (the log's thresholds are low: source-install.sql).
  if (taken >= VACUUM_AFTER) await c.query(renderSql('changes-vacuum', s));
  return { enqueued, lane: lane === undefined ? undefined : lane === 0 ? 'live' : 'bulk' };
}
