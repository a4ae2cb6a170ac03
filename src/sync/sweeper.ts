// The daemon's reconciliation: two loops, one per sweep pass, each trying a step of its pass for the table
// whenever it is due (src/queue/sweep.ts decides, under a row lock in embedsync.sweep, which daemon runs it).
// The daemon that ran the cheap pass then looks after the vector index, so that too happens once per table.
import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import type { SourceConfig, SyncConfig } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { WriteTarget } from '../db/model-state.ts';
import type { SourceSql } from '../db/source-sql.ts';
import { maintainIndex } from '../db/index-maintenance.ts';
import { verifyChunks } from '../db/chunk-table.ts';
import { ensureSweepRows, sweepStep, type SweepPacing, type SweepPass, type SweepStep } from '../queue/sweep.ts';

export interface SweeperOptions {
  readonly pool: pg.Pool;
  readonly source: SourceConfig;
  readonly sql: SourceSql;
  readonly sync: SyncConfig;
  readonly checksum: string;
  /** The write target (idle: this daemon's model is not the recorded one, so it does not sweep). */
  readonly target: () => Promise<WriteTarget>;
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

export interface Sweeper {
  /** Tries one step of a pass now (tests, and the loops). */
  step(pass: SweepPass): Promise<SweepStep>;
  stop(): Promise<void>;
}

/** How often a daemon looks whether a pass it did not run is due (the pass's own pace is in the table). */
const MAX_POLL_MS = 5000;

export function startSweeper(o: SweeperOptions): Sweeper {
  const { pool, sync, logger, metrics } = o;
  const pacing: SweepPacing = {
    changedEveryMs: sync.sweepIntervalMs,
    verifyPeriodMs: sync.verifyPeriodMs,
    verifyMaxRowsPerSecond: sync.verifyMaxRowsPerSecond,
    verifyChunkRows: sync.verifyChunkRows,
  };
  const abort = new AbortController();
  const ready = ensureSweepRows(pool, o.sql.sourceKey).catch((err: unknown) => {
    logger.warn({ event: 'sweep_setup_failed', err }, 'could not create the sweep rows; run `embedsync migrate`');
  });

  const step = async (pass: SweepPass): Promise<SweepStep> => {
    await ready;
    const idle: SweepStep = { pass, ran: false, scanned: 0, enqueued: 0, roundRows: 0, estimatedRows: 0, finished: false, nextInMs: 0 };
    const t = await o.target();
    if (t.kind === 'idle') return idle;
    const started = performance.now();
    const r = await sweepStep(pool, t.sql, pass, o.checksum, pacing);
    if (!r.ran) return r;
    metrics?.sweepSeconds.inc({ pass }, (performance.now() - started) / 1000);
    metrics?.sweepRows.inc({ pass }, r.scanned);
    metrics?.sweepFound.inc({ pass }, r.enqueued);
    if (pass === 'verify') {
      metrics?.sweepPosition.set(r.roundRows);
      metrics?.sweepEstimatedRows.set(r.estimatedRows);
      if (r.finished) metrics?.sweepLastVerified.set(Date.now() / 1000);
    }
    if (r.enqueued > 0) {
      logger.info({ event: 'sweep', pass, scanned: r.scanned, enqueued: r.enqueued }, 'reconciliation sweep enqueued rows');
    }
    if (pass === 'verify' && r.finished) {
      logger.info({ event: 'sweep_verified', table: o.sql.sourceKey }, 'verification round finished: every row checked');
    }
    if (pass === 'verify' && r.finished && t.sql.chunking) {
      const c = await verifyChunks(pool, o.sql);
      if (c.restaled + c.pruned > 0) {
        logger.info({ event: 'sweep_chunks', table: o.sql.sourceKey, ...c },
          'verification: rows without their chunks queued, chunks of old models removed');
      }
    }
    return r;
  };

  // Index maintenance decides from the statistics and the stored count (catalog reads, about a millisecond);
  // it counts the rows with vectors (a scan of the table) only when a threshold is in doubt. For those
  // checks, the next waits until the last one's time is under 0.5% of the time since.
  let nextIndexCheck = 0;
  const afterChanged = async () => {
    if (performance.now() < nextIndexCheck) return;
    const started = performance.now();
    // The vector index follows the table: built once there are rows to train it, rebuilt past the growth factor.
    const r = await maintainIndex(pool, o.source, o.sql, abort.signal).catch((err: unknown) => {
      if (!abort.signal.aborted) logger.warn({ event: 'vector_index_failed', err }, 'vector index maintenance failed');
      return undefined;
    });
    const took = performance.now() - started;
    // Not the build itself: a build happens once, and its time says nothing about the next check.
    if (!r || r.buildSeconds === undefined) nextIndexCheck = performance.now() + 200 * took;
    if (r && r.action !== 'keep' && r.action !== 'wait') {
      logger.info({ event: 'vector_index', action: r.action, name: r.name, lists: r.lists, rows: r.rows, build_seconds: r.buildSeconds },
        `vector index: ${r.reason}`);
    }
  };

  // Cut short by stop(): the loops end at once instead of sleeping out their poll.
  const sleep = (ms: number) => delay(ms, undefined, { signal: abort.signal }).catch(() => undefined);

  const loop = async (pass: SweepPass, firstDelayMs: number) => {
    const pollMs = Math.min(pass === 'changed' ? sync.sweepIntervalMs : MAX_POLL_MS, MAX_POLL_MS);
    await sleep(firstDelayMs);
    while (!abort.signal.aborted) {
      let wait = pollMs;
      try {
        const r = await step(pass);
        if (r.ran && pass === 'changed') await afterChanged();
        // Several steps within one poll when the pace asks for it (a big table, a short period); a step not run
        // waits until the pass is due, or a poll while another daemon holds it.
        if (r.ran || r.nextInMs > 0) wait = Math.min(r.nextInMs, pollMs);
      } catch (err) {
        if (!abort.signal.aborted) logger.warn({ event: 'sweep_failed', pass, err }, 'reconciliation sweep step failed');
      }
      // Jitter, so daemons started together do not all poll at the same instant; only later, never before the
      // step is due (an early wake would find it not due).
      await sleep(wait * (1 + Math.random() * 0.2));
    }
  };
  // The first cheap pass one interval after start, as before; verification starts polling soon.
  const loops = [loop('changed', sync.sweepIntervalMs), loop('verify', Math.min(sync.sweepIntervalMs, 1000))];

  return {
    step,
    async stop() {
      abort.abort();
      await Promise.all(loops);
    },
  };
}
