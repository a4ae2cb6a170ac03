// The daemon's watch over one table, every EMBEDSYNC_WATCH_INTERVAL_MS: it takes the table's inserts and wakes
// the claim loops, which is what lets the application's writes go without an INSERT trigger and without NOTIFY
// (docs/sync.md, Triggers, has what each costs the application).
// - New rows: where ids come from a sequence and the new-rows index is ready, the index's newest entries that are
//   neither queued nor dead-lettered are enqueued (sql/watch-new-rows.sql): live when the look finds at most
//   EMBEDSYNC_BULK_ROWS of them, as a statement of that size would be; a bulk load goes to the bulk lane, paged
//   down the index below the first look. Never a read of the table: without a valid index (a model migration's
//   swap takes it away until it is built again) the look finds nothing. Only for the main columns: a daemon
//   writing a model migration's shadow columns would leave the main checksum empty and find its own rows again.
// - A table with logical capture (EMBEDSYNC_CAPTURE=logical): its replication slot instead (capture-look.ts), read
//   likewise only by daemons writing the main columns.
// - The triggers' change log (updates, and inserts of tables with an INSERT trigger): moved into the queue by one
//   daemon at a time (queue/change-log.ts).
// - Due work: whether either lane has due rows (any writer's: the change log's, migrate's, another daemon's).
// Any number of daemons may watch one table: enqueues are ON CONFLICT DO NOTHING.
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { inTransaction } from '../db/transaction.ts';
import { captureNames, captureState } from '../db/logical-capture.ts';
import { createCaptureLook, type CaptureLookResult } from './capture-look.ts';
import { drainChanges, type Drained } from '../queue/change-log.ts';
import type { WriteTarget } from '../db/model-state.ts';
import { newRowsIndexQualified } from '../db/new-rows-index.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { loadSql, renderSql } from '../db/sql-template.ts';
import { unquoteIdent } from '../db/quote.ts';
import type { Logger } from '../log/index.ts';

export interface LookOptions {
  /** A pool (the daemon's) or one connection: a page of a bulk load runs in a transaction of its own. */
  readonly db: pg.Pool | pg.Client;
  /** The table's main columns (the new-rows index is on the main checksum). */
  readonly sql: SourceSql;
  readonly target: () => Promise<WriteTarget>;
  readonly bulkRows: number;
  /** The daemon's model: logical capture queues only rows not current for it. */
  readonly checksum: string;
  /** There is due work: wake the claim loops (`live`: live rows among it, for the loop that claims only those). */
  readonly onDue: (live: boolean) => void;
  /** The daemon is stopping: a long move of the change log ends after its part in flight. */
  readonly signal?: AbortSignal;
}

export interface RowWatchOptions extends LookOptions {
  readonly intervalMs: number;
  readonly logger: Logger;
}

export interface Look {
  /** Rows enqueued by this look, and in which lane the first page put them. */
  readonly enqueued: number;
  readonly lane: 'live' | 'bulk' | undefined;
  readonly due: boolean;
}

export interface RowWatch {
  /** One look now (tests, and the loop). */
  look(): Promise<Look>;
  /** Idempotent; resolves when the loop has exited. */
  stop(): Promise<void>;
}

/** The first look reads this many entries at most; a bulk load is paged down in pages of BULK_PAGE. */
const FIRST_PAGE_MAX = 1000;
const BULK_PAGE = 5000;
const CAPTURE_RECHECK_MS = 10_000;

interface DueRow { due_live: boolean; due_bulk: boolean }
interface PageRow extends DueRow { scanned: number; found: number; enqueued: number; lane: number | null; last_id: string | null }

const urgent = (a: Look['lane'], b: Look['lane']): Look['lane'] => (a === 'live' || b === 'live' ? 'live' : a ?? b);

/** One look at the table (the watch's step; tests call it alone). */
export function createLook(o: LookOptions): () => Promise<Look> {
  const newRowsSql = renderSql('watch-new-rows', o.sql);
  const firstPage = Math.min(o.bulkRows + 1, FIRST_PAGE_MAX);
  const index = newRowsIndexQualified(o.sql);
  const checksumColumn = unquoteIdent(o.sql.checksum);
  // Whether the table has a capture slot: looked up at the first look, again every CAPTURE_RECHECK_MS without one
  // (migrate may set it up while the daemon runs; a slot that goes makes the reads fail, and the check runs again).
  let capture: (() => Promise<CaptureLookResult>) | undefined;
  let checkedAt = -Infinity;
  const captureLook = async () => {
    if (capture || performance.now() - checkedAt < CAPTURE_RECHECK_MS || !(o.db instanceof pg.Pool)) return capture;
    checkedAt = performance.now();
    const names = await captureNames(o.db, o.sql);
    if ((await captureState(o.db, names)).slot) {
      const read = createCaptureLook({ pool: o.db, sql: o.sql, names, bulkRows: o.bulkRows, checksum: o.checksum });
      capture = () => read().catch((err: unknown) => { capture = undefined; throw err; });
    }
    return capture;
  };
  const woken = (live: boolean, bulk: boolean, enqueued: number, lane: Look['lane']): Look => {
    if (live || bulk) o.onDue(live);
    return { enqueued, lane, due: live || bulk };
  };
  const look = async (): Promise<Look> => {
    const t = await o.target();
    if (t.kind === 'idle') return { enqueued: 0, lane: undefined, due: false };
    // The triggers' change log first, whatever columns this daemon writes: its due checks below then see the rows.
    // A failure (a role without the grant on the log) fails the look only after the rest of it: inserts still flow.
    let failed: { readonly err: unknown } | undefined;
    const logged = await drainChanges(o.db, o.sql, o.bulkRows, o.signal).catch((err: unknown): Drained => {
      failed = { err };
      return { enqueued: 0, lane: undefined };
    });
    const r = await lookRest(t, logged);
    if (failed) throw failed.err;
    return r;
  };
  const lookRest = async (t: WriteTarget, logged: Drained): Promise<Look> => {
    const dueOnly = async (enqueued: number, lane: Look['lane']): Promise<Look> => {
      const d = (await o.db.query<DueRow>(loadSql('watch-due'), [o.sql.sourceKey])).rows[0]!;
      return woken(d.due_live || lane === 'live', d.due_bulk || lane === 'bulk', enqueued, lane);
    };
    if (t.kind !== 'main') return dueOnly(logged.enqueued, logged.lane);
    // A table with logical capture: its slot has the inserts and updates (capture-look.ts).
    const fromSlot = await captureLook();
    if (fromSlot) {
      const r = await fromSlot();
      return dueOnly(r.enqueued + logged.enqueued, urgent(r.lane, logged.lane));
    }
    const params = (after: string | null, limit: number, threshold: number, holdFull: boolean) =>
      [o.sql.sourceKey, after, limit, threshold, index, checksumColumn, holdFull];
    const first = (await o.db.query<PageRow>(newRowsSql, params(null, firstPage, o.bulkRows, true))).rows[0]!;
    let enqueued = first.enqueued;
    let lane: Look['lane'] = first.enqueued === 0 ? undefined : first.lane === 0 ? 'live' : 'bulk';
    // Every entry of the look was new: a bulk load (or a burst). The look enqueued nothing; the load is enqueued
    // from the top down in one transaction, its plans pinned to the index (index-scan-local.sql).
    if (first.found === firstPage) {
      const c = o.db instanceof pg.Pool ? await o.db.connect() : o.db;
      try {
        enqueued = await inTransaction(c, async () => {
          await c.query(loadSql('index-scan-local'));
          let after: string | null = null;
          let total = 0;
          let threshold = o.bulkRows;
          for (let limit = firstPage; ; limit = BULK_PAGE) {
            const p: PageRow = (await c.query<PageRow>(newRowsSql, params(after, limit, threshold, false))).rows[0]!;
            if (after === null) {
              lane = p.lane === 0 ? 'live' : 'bulk';
              if (lane === 'bulk') threshold = -1;
            }
            total += p.enqueued;
            if (p.enqueued === 0 || p.scanned < limit) return total;
            after = p.last_id;
          }
        });
      } finally {
        if (c !== o.db) (c as pg.PoolClient).release();
      }
    }
    return woken(first.due_live || lane === 'live', first.due_bulk || enqueued > 0, enqueued + logged.enqueued, urgent(lane, logged.lane));
  };
  return look;
}

export function startRowWatch(o: RowWatchOptions): RowWatch {
  const abort = new AbortController();
  const look = createLook({ ...o, signal: abort.signal });
  const sleep = (ms: number) => delay(ms, undefined, { signal: abort.signal }).catch(() => undefined);
  let failing = false;
  const loop = async () => {
    while (!abort.signal.aborted) {
      try {
        const r = await look();
        if (r.enqueued > 0) {
          o.logger.debug({ event: 'watch_enqueued', table: o.sql.sourceKey, rows: r.enqueued, lane: r.lane }, 'new rows enqueued');
        }
        failing = false;
      } catch (err) {
        // Said once per failure streak: the claim loops report a database that is down in their own way.
        if (!failing && !abort.signal.aborted) {
          o.logger.warn({ event: 'watch_failed', table: o.sql.sourceKey, err }, 'looking for new rows failed; retrying');
        }
        failing = true;
      }
      await sleep(failing ? Math.max(o.intervalMs, 1000) : o.intervalMs);
    }
  };
  const running = loop();
  let stopped: Promise<void> | undefined;
  return {
    look,
    stop() {
      stopped ??= (abort.abort(), running);
      return stopped;
    },
  };
}
