// The sync daemon of one source table: checks the table is migrated for this model, then composes the claim
// loops (claim-loop.ts: each goes round the row's path, claim → read → encode → write → release), the watch
// (row-watch.ts: new rows and due work, every EMBEDSYNC_WATCH_INTERVAL_MS), the LISTEN connection (migrate's and
// the CLI's notifications), the reconciliation sweep and the metrics gauges. The poll interval and the sweep are
// the backstops, and leases make any number of daemons safe to run side by side.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { SourceConfig, SyncConfig } from '../config/index.ts';
import type { Encoder } from '../encoder/types.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { inspectSource, type SourceInfo } from '../db/source-info.ts';
import { isNotMigrated } from '../db/pg-errors.ts';
import { startListener, type Listener } from '../queue/listener.ts';
import { LANES, vectorTypeOid, type QueueOps } from '../queue/queue.ts';
import { enqueueUnsynced } from '../queue/sweep.ts';
import { writeTargets, type WriteTargets } from '../queue/write-target.ts';
import { readModelState } from '../db/state-repository.ts';
import type { ModelState } from '../db/model-state.ts';
import { startClaimLoops } from './claim-loop.ts';
import { SuspectGate } from './suspects.ts';
import { watchModel, type ModelMismatch, type ModelWatch } from './model-watch.ts';
import { startSweeper, type Sweeper } from './sweeper.ts';
import { startRowWatch, type RowWatch } from './row-watch.ts';
import { queueStatus } from '../queue/queue-status.ts';
import { chunkingEncoder, chunkSettingsOf } from '../encoder/chunking-encoder.ts';
import { checkChunkingRecorded } from '../db/chunk-table.ts';
import { captureNames, captureState, type CaptureNames } from '../db/logical-capture.ts';

export interface SyncDaemonOptions {
  readonly pool: pg.Pool;
  /** A new, unconnected client for the LISTEN connection. */
  readonly connectListener: () => pg.Client;
  readonly encoder: Encoder;
  readonly source: SourceConfig;
  readonly sync: SyncConfig;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Lease owner name, defaults to host:random; claim loop i holds its leases as `<owner>/<i>`. */
  readonly owner?: string;
  readonly listenerHeartbeatMs?: number;
  /** migrate recorded another model than this daemon's: it writes nothing from now on (model-watch.ts). */
  readonly onModelMismatch?: (m: ModelMismatch) => void;
  /** The suspect-row gate of the process (src/sync/suspects.ts); a daemon of its own makes one. */
  readonly gate?: SuspectGate;
}

export interface SyncDaemon {
  readonly owner: string;
  /** The queue's operations for this table (claim, release, fail, stats); a batch reads and writes through its target. */
  readonly ops: QueueOps;
  readonly listener: Listener;
  /** Set while migrate has recorded another model for the table than this daemon runs. */
  readonly modelMismatch: ModelMismatch | undefined;
  /** Look at the queue now (as a NOTIFY would). */
  wake(): void;
  /**
   * One look of the watch, then one claim by every loop, all begun now; resolves when they have returned. A daemon
   * that writes nothing (another model recorded) does nothing observable: this is how a test knows it had its chance.
   */
  pass(): Promise<void>;
  /** Runs a full reconciliation over the whole table now. */
  sweep(): Promise<{ scanned: number; enqueued: number }>;
  /** The once-per-table sweep passes (cheap pass, paced verification). */
  readonly sweeper: Sweeper;
  /** The look for new rows and due work (row-watch.ts). */
  readonly rowWatch: RowWatch;
  /** Stop claiming, finish or release the batch in hand, close the listener. Idempotent. */
  stop(): Promise<void>;
}

export class NotMigratedError extends Error {
  override name = 'NotMigratedError';
}

export async function startSyncDaemon(o: SyncDaemonOptions): Promise<SyncDaemon> {
  const { pool, source, sync, logger, metrics } = o;
  // A chunked table encodes its documents in chunks (one call per batch, as before) and writes them with the row.
  const encoder = chunkingEncoder(o.encoder, chunkSettingsOf(source), {
    onDocument: (n) => metrics?.chunksPerRow.observe({ source: `${source.table.schema}.${source.table.name}` }, n),
  });
  const { info, state } = await checkMigrated(pool, source);
  await checkChunkingRecorded(pool, source);
  // The state table decides which columns this model writes: the main ones, the shadow columns of a
  // dimension migration to it, or none (another model is recorded). Re-read as the loops claim (write-target.ts).
  const watch = watchModel({
    source: info.sql.sourceKey, checksum: encoder.info.checksum, logger,
    ...(metrics ? { metrics } : {}), ...(o.onModelMismatch ? { onMismatch: o.onModelMismatch } : {}),
  });
  const targets = writeTargets(pool, source, info.sql, await vectorTypeOid(pool), encoder.info.checksum,
    { onState: (state, target) => watch.observe(state, target) });
  await checkTarget(info, state, targets, watch, encoder, logger);

  const owner = o.owner ?? `${hostname()}:${randomBytes(4).toString('hex')}`;
  const stopping = new AbortController();
  const loops = startClaimLoops({
    targets, encoder, sync, owner, logger, metrics, stopping: stopping.signal,
    // Rows that were in hand when a process ended are encoded in shrinking batches, the loops one at a time (suspects.ts).
    // One gate per process: the tables of a process serving several share it (a row of one table that ends the
    // process must not make an innocent row of another table, alone in its own gate, look guilty).
    gate: o.gate ?? new SuspectGate(),
  });
  const wake = () => { for (const l of loops) l.wake(); };
  // The watch: bulk work alone wakes the loops over both lanes, not the one that claims only live rows.
  const wakeFor = (live: boolean) => { for (const l of live ? loops : loops.slice(0, -1)) l.wake(); };
  const listener = listenForChanges(o, info, targets, wake);
  // New rows and due work, every EMBEDSYNC_WATCH_INTERVAL_MS: the application's writes send no NOTIFY.
  const rowWatch = startRowWatch({
    db: pool, sql: info.sql, target: () => targets.refresh(), bulkRows: source.bulkRows, checksum: encoder.info.checksum,
    intervalMs: sync.watchIntervalMs, onDue: wakeFor, logger,
  });

  // A full reconciliation on demand; the daemon's own sweeps run once per table (sweeper.ts), and stop() stops
  // both between chunks. A daemon whose model is no longer the recorded one has an idle target: it sweeps nothing.
  const runSweep = async () => {
    const t = await targets.refresh();
    if (t.kind === 'idle') return { scanned: 0, enqueued: 0 };
    const r = await enqueueUnsynced(pool, t.sql, encoder.info.checksum, { signal: stopping.signal });
    if (r.enqueued > 0) logger.info({ event: 'sweep', scanned: r.scanned, enqueued: r.enqueued }, 'reconciliation sweep enqueued rows');
    return r;
  };
  const sweeper = startSweeper({
    pool, source, sql: info.sql, sync, checksum: encoder.info.checksum, target: () => targets.refresh(), logger,
    ...(metrics ? { metrics } : {}),
  });
  const stopGauges = metrics ? startQueueGauges(pool, info, targets.queue, metrics, sync.pollIntervalMs) : () => undefined;

  logger.info({ event: 'sync_started', owner, table: info.sql.sourceKey, model_checksum: encoder.info.checksum }, 'sync daemon started');
  let stopped: Promise<void> | undefined;
  return {
    owner,
    ops: targets.queue,
    listener,
    get modelMismatch() { return watch.mismatch; },
    wake,
    async pass() {
      await rowWatch.look();
      await Promise.all(loops.map((l) => l.pass()));
    },
    sweep: runSweep,
    sweeper,
    rowWatch,
    stop() {
      stopped ??= (async () => {
        stopGauges();
        stopping.abort();
        const sweepStopped = sweeper.stop();
        const watchStopped = rowWatch.stop();
        // Stop between runs: runs of the batch in hand that have not reached a worker are dropped and its rows
        // released; a run already on a worker returns within the run size.
        await Promise.all(loops.map((l) => l.stop(0)));
        await Promise.all([listener.stop(), sweepStopped, watchStopped]);
        logger.info({ event: 'sync_stopped', owner }, 'sync daemon stopped');
      })();
      return stopped;
    },
  };
}

/** The table as inspected and its recorded model; throws NotMigratedError unless migrate has set it up. */
async function checkMigrated(pool: pg.Pool, source: SourceConfig): Promise<{ info: SourceInfo; state: ModelState }> {
  // A missing table or column (SourceError) is a setting to correct, not a migration to run: it reaches the caller as it is.
  const info = await inspectSource(pool, source);
  // Only a missing schema means "not migrated"; anything else (a restart, a timeout) goes to the caller's retry.
  const st = await readModelState(pool, info.sql.sourceKey).catch((err: unknown) => {
    if (isNotMigrated(err)) return undefined;
    throw err;
  });
  if (!st || info.missingColumns.length > 0) {
    throw new NotMigratedError(`${info.sql.table} is not set up for embedsync; run \`embedsync migrate\` first`);
  }
  return { info, state: st };
}

/**
 * Throws NotMigratedError when this model's vectors do not fit the columns it would write; warns when it
 * writes nothing for now (another model is recorded and no migration to this one has its shadow columns).
 */
async function checkTarget(
  info: SourceInfo, st: ModelState, targets: WriteTargets, watch: ModelWatch, encoder: Encoder, logger: Logger,
): Promise<void> {
  const target = await targets.refresh();
  if (target.kind !== 'next' && (st.dimensions !== encoder.info.dimensions || info.embeddingDimensions !== encoder.info.dimensions)) {
    throw new NotMigratedError(`the embedding column holds ${info.embeddingDimensions}-dimension vectors but ${encoder.info.name} makes ` +
      `${encoder.info.dimensions}: run \`embedsync migrate\` for the model change`);
  }
  if (target.kind === 'idle' && !watch.mismatch) {
    logger.warn({ event: 'model_changed', stored: st.checksum, current: encoder.info.checksum },
      `not writing vectors yet: ${target.reason}`);
  }
}

/** The LISTEN connection: a queue notification wakes the loops, "model:<source>" re-reads the write target too. */
function listenForChanges(o: SyncDaemonOptions, info: SourceInfo, targets: WriteTargets, wake: () => void): Listener {
  return startListener({
    connect: o.connectListener,
    // "model:<source>": migrate changed this table's model or migration; re-read the state now.
    onNotify: (payload) => {
      if (payload === `model:${info.sql.sourceKey}`) {
        targets.invalidate();
        void targets.refresh().catch(() => undefined);
      }
      wake();
    },
    // Notifications sent while we were away are lost: look at the queue right after every (re)subscribe.
    onConnected: wake,
    onError: (err, attempt) =>
      o.logger.warn({ event: 'listener_reconnect', attempt, error: err.message }, 'listener connection lost; reconnecting'),
    heartbeatMs: o.listenerHeartbeatMs ?? Math.max(1000, Math.min(10_000, o.sync.pollIntervalMs * 5)),
  });
}

/** Queue depth and age per lane and dead letters as gauges, refreshed every poll interval; returns the stop. */
function startQueueGauges(pool: pg.Pool, info: SourceInfo, queue: QueueOps, metrics: Metrics, pollIntervalMs: number): () => void {
  let names: CaptureNames | undefined;
  const refresh = async () => {
    // Counted while the queue is small, estimated past that (a backfill of millions): never a pass over it all.
    const s = await queueStatus(pool, info.sql, false, () => queue.stats());
    const labels = { source: info.sql.sourceKey };
    metrics.queueDepth.set(labels, s.queued);
    metrics.oldestQueuedSeconds.set(labels, s.oldestSeconds);
    for (const lane of LANES) {
      metrics.laneDepth.set({ ...labels, lane }, s.lanes[lane].queued);
      metrics.laneOldestSeconds.set({ ...labels, lane }, s.lanes[lane].oldestSeconds);
    }
    metrics.deadletterRows.set(labels, s.deadlettered);
    if (s.logged !== null) metrics.changeLogEntries.set(labels, s.logged);
    // Logical capture: what the server keeps for the slot (growing while no daemon reads it; the alert watches it).
    names ??= await captureNames(pool, info.sql);
    const capture = await captureState(pool, names);
    if (capture.slot) metrics.captureWalKeptBytes.set(labels, capture.lagBytes ?? 0);
  };
  const timer = setInterval(() => { refresh().catch(() => undefined); }, Math.max(1000, pollIntervalMs));
  void refresh().catch(() => undefined);
  return () => clearInterval(timer);
}
