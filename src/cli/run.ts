// `embedsync run [--no-http] [--no-sync]`: the sync daemon and the HTTP embedding API in one process,
// sharing one encoder and one metrics registry. The first SIGTERM/SIGINT (ctx.signal) stops claiming,
// finishes or releases the batch in hand, drains HTTP requests and exits 0 within the shutdown budget.
import { recordedModelName } from '../db/source-settings.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { PACKAGE_VERSION, type Config } from '../config/index.ts';
import type { Encoder } from '../encoder/types.ts';
import { backoff } from '../lib/backoff.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { createMetrics, type Metrics } from '../metrics/index.ts';
import { createClient, createPool } from '../db/pool.ts';
import { SourceError } from '../db/source-info.ts';
import { NotMigratedError, startSyncDaemon, type SyncDaemon } from '../sync/daemon.ts';
import { getSyncStatus } from '../sync/status.ts';
import { createEncoderShelf } from '../sync/encoder-shelf.ts';
import { startSupervisor, type Supervisor } from '../sync/supervisor.ts';
import { ModelChangedError } from '../sync/model-watch.ts';
import { startTracing } from '../tracing/index.ts';
import { UsageError, type Command } from './context.ts';

export interface RunOptions {
  readonly config: Config;
  readonly sync: boolean;
  readonly http: boolean;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Builds the encoder; the HTTP API starts while it loads, the sync worker waits for it. */
  readonly loadEncoder: () => Promise<Encoder>;
  /** Several tables (EMBEDSYNC_TABLE a list or *): builds the encoder of another model a table was migrated with. */
  readonly loadModel?: (model: string) => Promise<Encoder>;
  /** The configured model as migrate records it (a folder as an absolute path), so tables on it share its encoder. */
  readonly recordedModel?: string;
  /** Tests: the sync daemon of a single table once it runs, to drive its passes (SyncDaemon.pass). */
  readonly onSyncDaemon?: (daemon: SyncDaemon) => void;
}

/**
 * Runs until `signal` aborts, then shuts down cleanly. Rejects on a fatal start-up problem, and with
 * ModelChangedError once migrate records another model when EMBEDSYNC_EXIT_ON_MODEL_CHANGE is set.
 */
export async function runService(o: RunOptions): Promise<void> {
  const { config, logger, signal } = o;
  const metrics = o.metrics ?? createMetrics();
  const encoderPromise = o.loadEncoder();
  encoderPromise.catch(() => undefined); // reported where it is awaited
  // How the local encoder's time splits between the sync worker and the HTTP API (EMBEDSYNC_SYNC_SHARE).
  const unwatch = encoderPromise.then((e) => {
    const scheduler = e.scheduler;
    const unwait = scheduler?.onWait((priority, s) => metrics.encoderWaitSeconds.observe({ class: priority }, s));
    const uncharge = scheduler?.onCharge((source, s) => metrics.encoderBusySeconds.inc({ source }, s));
    return () => { unwait?.(); uncharge?.(); };
  }, () => undefined);
  const paceTimer = setInterval(() => {
    void encoderPromise.then((e) => { const p = e.pace; if (p) metrics.encoderTokensPerSecond.set(p.tokensPerSecond); }, () => undefined);
  }, 1000);
  paceTimer.unref();
  // Shutdown has a budget: past it, runs still on a worker are abandoned (their rows go back to the queue).
  let forceClose: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => {
    forceClose = setTimeout(() => { void encoderPromise.then((e) => e.close(), () => undefined); },
      Math.max(100, config.sync.shutdownTimeoutMs - 1000));
    forceClose.unref();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  // Several tables: each table's daemon has its own loops and sweeper, so the pool grows with them.
  const pool = o.sync
    ? createPool({ databaseUrl: config.databaseUrl, max: config.tables.kind === 'one' ? 4 : 16, applicationName: 'embedsync' })
    : undefined;
  // POST /search's own connections, so searches never wait behind the sync worker's (pg connects on first use).
  const searchPool = o.http ? createPool({ databaseUrl: config.databaseUrl, max: 4, applicationName: 'embedsync-search' }) : undefined;
  let daemon: SyncDaemon | undefined;
  let supervisor: Supervisor | undefined;
  const loadModel = o.loadModel ?? (async (model: string) => {
    throw new Error(`cannot load ${model}: this process was given no way to load models other than ${config.model.model}`);
  });
  const shelf = config.tables.kind !== 'one' ? createEncoderShelf(loadModel) : undefined;
  shelf?.adopt(o.recordedModel ?? config.model.model, encoderPromise);
  let http: { close(): Promise<void> } | undefined;
  let modelChanged: ((err: ModelChangedError) => void) | undefined;
  const exitOnModelChange = new Promise<never>((_resolve, reject) => { modelChanged = reject; });
  exitOnModelChange.catch(() => undefined); // reported where it is awaited
  try {
    // Both halves start side by side: the API answers (503 on /ready) while the model loads, and the sync
    // worker does not wait for Fastify.
    const [h, d] = await Promise.allSettled([
      o.http ? import('../http/index.ts').then(({ startHttpServer }) => startHttpServer({
        config, encoder: encoderPromise, metrics, logger,
        ...(searchPool ? { db: searchPool } : {}),
        ...(pool && shelf ? { status: () => tablesStatus(pool, supervisor), otherModels: () => shelf.byName() } : {}),
        ...(pool && !shelf ? { status: () => getSyncStatus(pool, config.source), notReady: () => daemon?.modelMismatch?.reason } : {}),
      })) : Promise.resolve(undefined),
      pool && shelf ? startSupervisor({
        pool, sync: config.sync, logger, metrics, encoders: shelf,
        tables: config.tables.kind === 'list' ? config.tables.tables : 'all',
        connectListener: () => createClient({ databaseUrl: config.databaseUrl, applicationName: 'embedsync-listener' }),
      }).then((s) => { supervisor = s; return undefined; }) :
      pool ? encoderPromise.then((encoder) => startWithRetry(() => startSyncDaemon({
        pool, encoder, source: config.source, sync: config.sync, logger, metrics,
        onModelMismatch: (m) => { if (config.sync.exitOnModelChange) modelChanged?.(new ModelChangedError(m)); },
        connectListener: () => createClient({ databaseUrl: config.databaseUrl, applicationName: 'embedsync-listener' }),
      }), logger, signal)) : encoderPromise.then(() => undefined),
    ]);
    if (h.status === 'fulfilled') http = h.value;
    if (d.status === 'fulfilled') daemon = d.value;
    if (daemon) o.onSyncDaemon?.(daemon);
    if (h.status === 'rejected') throw h.reason;
    if (d.status === 'rejected') throw d.reason;
    if (!signal.aborted) {
      await Promise.race([new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true })), exitOnModelChange]);
    }
    logger.info({ event: 'shutdown' }, 'shutting down');
  } finally {
    await daemon?.stop();
    await supervisor?.stop();
    await http?.close().catch((err: unknown) => logger.warn({ err }, 'http close failed'));
    await pool?.end().catch(() => undefined);
    await searchPool?.end().catch(() => undefined);
    (await unwatch)?.();
    clearInterval(paceTimer);
    clearTimeout(forceClose);
    signal.removeEventListener('abort', onAbort);
    await shelf?.closeAll();
    await encoderPromise.then((e) => e.close(), () => undefined);
  }
}

/** GET /status of a process serving several tables: each table's status, in the order of the record. */
async function tablesStatus(pool: import('pg').Pool, supervisor: Supervisor | undefined): Promise<{ tables: unknown[] }> {
  const units = [...(supervisor?.units.values() ?? [])].sort((a, b) => a.source.localeCompare(b.source));
  return { tables: await Promise.all(units.map(async (u) => ({ ...await getSyncStatus(pool, u.recorded.source), model: u.model }))) };
}

const START_RETRY = backoff({ baseMs: 250, maxMs: 10_000, maxExponent: 6 });

/** The database may not be up yet (or restarting): keep trying with backoff; a schema problem is fatal. */
async function startWithRetry(start: () => Promise<SyncDaemon>, logger: Logger, signal: AbortSignal): Promise<SyncDaemon | undefined> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      return await start();
    } catch (err) {
      // Not migrated, or the configured table or columns are not there: retrying cannot help.
      if (err instanceof NotMigratedError || err instanceof SourceError) throw err;
      logger.warn({ event: 'sync_start_retry', attempt, error: (err as Error).message }, 'database not reachable; retrying');
      // An abort ends the wait; the loop's condition then stops it.
      await sleep(START_RETRY.delayMs(attempt - 1), undefined, { signal }).catch(() => undefined);
    }
  }
  return undefined;
}

export const runCommand: Command = async (ctx) => {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...ctx.argv],
      options: { 'no-http': { type: 'boolean', default: false }, 'no-sync': { type: 'boolean', default: false } },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: embedsync run [--no-http] [--no-sync]`);
  }
  if (values['no-http'] && values['no-sync']) throw new UsageError('--no-http and --no-sync together leave nothing to run');
  const config = ctx.config();
  const logger = createLogger(config.logLevel);
  const metrics = createMetrics();
  // Off (and the OpenTelemetry SDK never loaded) unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const tracing = await startTracing({
    endpoint: config.otelEndpoint,
    serviceName: 'embedsync',
    serviceVersion: PACKAGE_VERSION,
    onExportError: (message) => logger.warn({ event: 'trace_export_failed', error: message }, 'trace export failed'),
  });
  const { createEncoder } = await import('../encoder/index.ts');
  const encoderOptions = {
    progress: ctx.stderr, cwd: ctx.cwd, signal: ctx.signal, logger,
    onWorkerExit: (e: { reason: string; worker: number; message: string }) => {
      metrics.encoderWorkerRestarts.inc({ reason: e.reason });
      logger.error({ event: 'encoder_worker_replaced', worker: e.worker, reason: e.reason, error: e.message },
        'encoder worker died; its run is retried and the worker replaced');
    },
  };
  try {
    await runService({
      config, logger, signal: ctx.signal, sync: !values['no-sync'], http: !values['no-http'],
      loadEncoder: () => createEncoder(config.model, encoderOptions),
      loadModel: (model) => createEncoder({ ...config.model, model }, encoderOptions),
      recordedModel: recordedModelName(config.model.model, ctx.cwd),
      metrics,
    });
  } finally {
    await tracing.shutdown();
  }
  return 0;
};
