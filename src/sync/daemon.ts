// The sync daemon: composes the queue, the LISTEN connection, the worker loop, the reconciliation sweep and
// the metrics gauges for one source table. NOTIFY is a hint; the poll interval and the sweep are the
// backstops, and leases make any number of daemons safe to run side by side.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { SourceConfig, SyncConfig } from '../config/index.ts';
import type { Encoder } from '../encoder/types.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { inspectSource } from '../db/source-info.ts';
import { isNotMigrated } from '../db/pg-errors.ts';
import { startListener, type Listener } from '../queue/listener.ts';
import { LANES, vectorTypeOid, type ClaimedRow, type QueueOps } from '../queue/queue.ts';
import { enqueueStale } from '../queue/sweep.ts';
import { targetedQueueOps } from '../queue/write-target.ts';
import { readModelState } from '../db/state-repository.ts';
import { availabilityOf } from '../encoder/remote/index.ts';
import { recordSpan, withSpan } from '../tracing/index.ts';
import { paceOf } from '../encoder/run-sizer.ts';
import { createBatchProcessor } from './batch-processor.ts';
import { BulkShare } from './bulk-share.ts';
import { ClaimSizer } from './claim-sizer.ts';
import { startWorkerLoop, type WorkerLoop } from './worker-loop.ts';
import { splitSuspects, SuspectGate, type GatePass } from './suspects.ts';
import { watchModel, type ModelMismatch } from './model-watch.ts';
import { startSweeper, type Sweeper } from './sweeper.ts';
import { queueStatus } from '../queue/queue-status.ts';
import { chunkingEncoder, chunkSettingsOf } from '../encoder/chunking-encoder.ts';
import { checkChunkingRecorded } from '../db/chunk-table.ts';

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
  readonly ops: QueueOps;
  readonly listener: Listener;
  /** Set while migrate has recorded another model for the table than this daemon runs. */
  readonly modelMismatch: ModelMismatch | undefined;
  /** Look at the queue now (as a NOTIFY would). */
  wake(): void;
  /** Runs a full reconciliation over the whole table now. */
  sweep(): Promise<{ scanned: number; enqueued: number }>;
  /** The once-per-table sweep passes (cheap pass, paced verification). */
  readonly sweeper: Sweeper;
  /** Stop claiming, finish or release the batch in hand, close the listener. Idempotent. */
  stop(): Promise<void>;
}

export class NotMigratedError extends Error {
  override name = 'NotMigratedError';
}

export async function startSyncDaemon(o: SyncDaemonOptions): Promise<SyncDaemon> {
  const { pool, source, sync, logger, metrics } = o;
  // A chunked table encodes its documents in chunks (one call per batch, as before) and writes them with the row.
  const encoder = chunkingEncoder(o.encoder, chunkSettingsOf(source), { onDocument: (n) => metrics?.chunksPerRow.observe({ source: `${source.table.schema}.${source.table.name}` }, n) });
  // A missing table or column (SourceError) is a setting to correct, not a migration to run: it reaches the caller as it is.
  const info = await inspectSource(pool, source);
  await checkChunkingRecorded(pool, source);
  // Only a missing schema means "not migrated"; anything else (a restart, a timeout) goes to the caller's retry.
  const st = await readModelState(pool, info.sql.sourceKey).catch((err: unknown) => {
    if (isNotMigrated(err)) return undefined;
    throw err;
  });
  if (!st || info.missingColumns.length > 0) throw new NotMigratedError(`${info.sql.table} is not set up for embedsync; run \`embedsync migrate\` first`);
  // The state table decides which columns this model writes: the main ones, the shadow columns of a
  // dimension migration to it, or none (another model is recorded). Re-read as the loop runs (write-target.ts).
  const watch = watchModel({
    source: info.sql.sourceKey, checksum: encoder.info.checksum, logger,
    ...(metrics ? { metrics } : {}), ...(o.onModelMismatch ? { onMismatch: o.onModelMismatch } : {}),
  });
  const targeted = targetedQueueOps(pool, source, info.sql, await vectorTypeOid(pool), encoder.info.checksum, { onState: watch.observe });
  const target = await targeted.refresh();
  if (target.kind !== 'next' && (st.dimensions !== encoder.info.dimensions || info.embeddingDimensions !== encoder.info.dimensions)) {
    throw new NotMigratedError(`the embedding column holds ${info.embeddingDimensions}-dimension vectors but ${encoder.info.name} makes ` +
      `${encoder.info.dimensions}: run \`embedsync migrate\` for the model change`);
  }
  if (target.kind === 'idle' && !watch.mismatch) {
    logger.warn({ event: 'model_changed', stored: st.checksum, current: encoder.info.checksum }, `not writing vectors yet: ${target.reason}`);
  }

  const owner = o.owner ?? `${hostname()}:${randomBytes(4).toString('hex')}`;
  const ops = targeted.ops;
  const loopCount = sync.workers ?? 1;
  const sizer = new ClaimSizer(sync.batchSize, () => paceOf(encoder), loopCount, sync.leaseSeconds);
  const onFailure = (f: { id: string; error: string; deadLettered: boolean }) =>
    logger.warn({ event: f.deadLettered ? 'row_dead_lettered' : 'row_failed', id: f.id, error: f.error }, 'row failed');
  // Rows that were in hand when a process ended are encoded in shrinking batches, the loops one at a time (suspects.ts).
  // One gate per process: the tables of a process serving several share it (a row of one table that ends the
  // process must not make an innocent row of another table, alone in its own gate, look guilty).
  const gate = o.gate ?? new SuspectGate();
  const stopping = new AbortController();

  const availability = availabilityOf(encoder);
  // EMBEDSYNC_WORKERS loops share the work like separate daemons would (SKIP LOCKED): while one writes a
  // batch, the next is claimed, read and encoded, so the database and the encoder are both kept busy. One more
  // loop claims live rows only: a new lead is claimed at once, not when a loop has finished its bulk batch,
  // and its rows are encoded ahead of the bulk runs waiting for the encoder. Each loop is a lease owner of its
  // own (owner/1, owner/2, ..., owner/live): after a lease lapses, one loop can never release, fail or renew rows another
  // loop has claimed again.
  const startLoop = (lanes: 'all' | 'live', index: number): WorkerLoop => {
    const bulkShare = new BulkShare(sync.bulkShare);
    const loopOwner = lanes === 'live' ? `${owner}/live` : `${owner}/${index + 1}`;
    const processor = createBatchProcessor({
      ops, encoder, owner: loopOwner, maxAttempts: sync.maxAttempts, retryBaseMs: sync.retryBaseMs, leaseSeconds: sync.leaseSeconds,
      ...(metrics ? { metrics } : {}),
      onEncoded: (rows, tokens) => sizer.observe(rows, tokens),
      onFailure,
    });
    // Tracing: one span per batch, starting with its claim. Empty claims (idle polls) are not traced, so the
    // claim is timed here and recorded as the batch's first child once there is a batch.
    let claimTiming = { start: 0, end: 0 };
    const claim = async (pass: GatePass): Promise<readonly ClaimedRow[] | null> => {
      if (stopping.signal.aborted || (await targeted.refresh()).kind === 'idle') return null;
      // A remote encoder that is down (circuit open): leave the rows queued rather than claim and hand them back.
      if (availability?.open) return null;
      await processor.releaseOrphans();
      const start = performance.now();
      const size = sizer.rows();
      metrics?.syncClaimRows.set(size);
      const reserve = lanes === 'all' ? bulkShare.reserve(size) : 0;
      const claimed = await ops.claim(size, loopOwner, sync.leaseSeconds, reserve, lanes);
      bulkShare.took(reserve, claimed.filter((r) => r.lane === 'bulk').length);
      claimTiming = { start, end: performance.now() };
      if (claimed.length === 0) return null;
      const split = splitSuspects(claimed, sync.batchSize, sync.maxAttempts);
      if (split.bury.length > 0) {
        await ops.fail(split.bury.map((b) => ({ id: b.row.id, error: b.error })), loopOwner, 0, sync.retryBaseMs);
        for (const b of split.bury) onFailure({ id: b.row.id, error: b.error, deadLettered: true });
      }
      // Only a loop that claimed alone may open the gate: a side-by-side claim without suspects says nothing
      // about the suspects another loop has just given back.
      if (split.ends > 0 || pass.exclusive) gate.found(split.ends > 0);
      if (split.ends > 0 && !pass.exclusive) {
        // Suspects while other loops may hold rows: all back, and claim again once this loop is alone.
        await ops.release(claimed.filter((r) => !split.bury.some((b) => b.row === r)).map((r) => r.id), loopOwner, 0);
        loop.wake();
        return null;
      }
      if (split.giveBack.length > 0) await ops.release(split.giveBack.map((r) => r.id), loopOwner, 0);
      if (split.ends > 0) {
        logger.warn({ event: 'suspect_rows', rows: split.keep.length, ends: split.ends },
          'rows that were in hand when the process ended: encoding them in a smaller batch');
      }
      return split.keep.length > 0 ? split.keep : null;
    };
    const loop: WorkerLoop = startWorkerLoop<{ rows: readonly ClaimedRow[]; pass: GatePass }>({
      fetch: async () => {
        const pass = await gate.enter();
        try {
          const rows = await claim(pass);
          if (rows) return { rows, pass };
        } catch (err) {
          pass.leave();
          throw err;
        }
        pass.leave();
        return null;
      },
      process: ({ rows, pass }, signal) => {
        const { start, end } = claimTiming;
        return withSpan('embedsync.batch', { 'embedsync.rows': rows.length, 'embedsync.owner': loopOwner }, async () => {
          recordSpan('embedsync.claim', { 'embedsync.rows': rows.length }, start, end);
          return processor.process(rows, signal);
        }, { startTime: start }).finally(() => pass.leave());
      },
      pollIntervalMs: sync.pollIntervalMs,
      debounceMs: sync.debounceMs,
      onError: (err) => logger.error({ event: 'sync_error', err }, 'sync batch failed; backing off'),
    });
    return loop;
  };
  const loops = [...Array.from({ length: loopCount }, (_, i) => startLoop('all', i)), startLoop('live', loopCount)];
  const wake = () => { for (const l of loops) l.wake(); };

  const listener = startListener({
    connect: o.connectListener,
    // "model:<source>": migrate changed this table's model or migration; re-read the state now.
    onNotify: (payload) => {
      if (payload === `model:${info.sql.sourceKey}`) {
        targeted.invalidate();
        void targeted.refresh().catch(() => undefined);
      }
      wake();
    },
    // Notifications sent while we were away are lost: look at the queue right after every (re)subscribe.
    onConnected: wake,
    onError: (err, attempt) => logger.warn({ event: 'listener_reconnect', attempt, error: err.message }, 'listener connection lost; reconnecting'),
    heartbeatMs: o.listenerHeartbeatMs ?? Math.max(1000, Math.min(10_000, sync.pollIntervalMs * 5)),
  });

  // A full reconciliation on demand; the daemon's own sweeps run once per table (sweeper.ts), and stop() stops
  // both between chunks. A daemon whose model is no longer the recorded one has an idle target: it sweeps nothing.
  const runSweep = async () => {
    const t = await targeted.refresh();
    if (t.kind === 'idle') return { scanned: 0, enqueued: 0 };
    const r = await enqueueStale(pool, t.sql, encoder.info.checksum, { signal: stopping.signal });
    if (r.enqueued > 0) logger.info({ event: 'sweep', scanned: r.scanned, enqueued: r.enqueued }, 'reconciliation sweep enqueued rows');
    return r;
  };
  const sweeper = startSweeper({
    pool, source, sql: info.sql, sync, checksum: encoder.info.checksum, target: () => targeted.refresh(), logger, ...(metrics ? { metrics } : {}),
  });

  const refreshGauges = async () => {
    if (!metrics) return;
    // Counted while the queue is small, estimated past that (a backfill of millions): never a pass over it all.
    const s = await queueStatus(pool, info.sql, false, () => ops.stats());
    const labels = { source: info.sql.sourceKey };
    metrics.queueDepth.set(labels, s.queued);
    metrics.oldestQueuedSeconds.set(labels, s.oldestSeconds);
    for (const lane of LANES) {
      metrics.laneDepth.set({ ...labels, lane }, s.lanes[lane].queued);
      metrics.laneOldestSeconds.set({ ...labels, lane }, s.lanes[lane].oldestSeconds);
    }
    metrics.deadletterRows.set(labels, s.deadlettered);
  };
  const gaugeTimer = setInterval(() => { refreshGauges().catch(() => undefined); }, Math.max(1000, sync.pollIntervalMs));
  void refreshGauges().catch(() => undefined);

  logger.info({ event: 'sync_started', owner, table: info.sql.sourceKey, model_checksum: encoder.info.checksum }, 'sync daemon started');
  let stopped: Promise<void> | undefined;
  return {
    owner,
    ops,
    listener,
    get modelMismatch() { return watch.mismatch; },
    wake,
    sweep: runSweep,
    sweeper,
    stop() {
      stopped ??= (async () => {
        clearInterval(gaugeTimer);
        stopping.abort();
        const sweepStopped = sweeper.stop();
        // Stop between runs: runs of the batch in hand that have not reached a worker are dropped and its rows
        // released; a run already on a worker returns within the run size.
        await Promise.all(loops.map((l) => l.stop(0)));
        await Promise.all([listener.stop(), sweepStopped]);
        logger.info({ event: 'sync_stopped', owner }, 'sync daemon stopped');
      })();
      return stopped;
    },
  };
}
