// All Prometheus metrics the process exports. The first eight keep the old service's names so existing
// dashboards and alerts keep working; the embedsync_* ones describe the sync side.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly requestsTotal: Counter<'endpoint' | 'status'>;
  readonly requestLatency: Histogram<'endpoint'>;
  readonly batchSize: Histogram<string>;
  readonly encodeFailures: Counter<'reason'>;
  readonly modelLoaded: Gauge<string>;
  readonly cacheHits: Counter<string>;
  readonly cacheMisses: Counter<string>;
  readonly activeRequests: Gauge<string>;
  readonly queueDepth: Gauge<'source'>;
  readonly oldestQueuedSeconds: Gauge<'source'>;
  readonly laneDepth: Gauge<'source' | 'lane'>;
  readonly laneOldestSeconds: Gauge<'source' | 'lane'>;
  readonly liveFreshnessSeconds: Histogram<string>;
  readonly encoderWaitSeconds: Histogram<'class'>;
  readonly rowsEmbedded: Counter<string>;
  readonly deadletterRows: Gauge<'source'>;
  readonly changeLogEntries: Gauge<'source'>;
  readonly captureWalKeptBytes: Gauge<'source'>;
  readonly changeToEmbeddingSeconds: Histogram<string>;
  readonly tokensTotal: Counter<string>;
  readonly truncatedTotal: Counter<string>;
  /** Chunked tables (EMBEDSYNC_CHUNKING=tokens): chunks per encoded document, by source table. */
  readonly chunksPerRow: Histogram<'source'>;
  readonly encodeSeconds: Histogram<'source'>;
  readonly encoderBusySeconds: Counter<'source'>;
  readonly encoderWorkerRestarts: Counter<'reason'>;
  readonly encoderTokensPerSecond: Gauge<string>;
  readonly syncClaimRows: Gauge<string>;
  readonly modelMismatch: Gauge<'source'>;
  readonly sweepRows: Counter<'pass'>;
  readonly sweepFound: Counter<'pass'>;
  readonly sweepSeconds: Counter<'pass'>;
  readonly sweepPosition: Gauge<string>;
  readonly sweepEstimatedRows: Gauge<string>;
  readonly sweepLastVerified: Gauge<string>;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
const LAG_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] as const;

/** A fresh registry per call, so tests and several apps in one process never collide. */
export function createMetrics(options: { readonly defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    requestsTotal: new Counter({
      name: 'embedding_requests_total', help: 'HTTP requests by endpoint and status code',
      labelNames: ['endpoint', 'status'] as const, registers,
    }),
    requestLatency: new Histogram({
      name: 'embedding_request_latency_seconds', help: 'HTTP request latency',
      labelNames: ['endpoint'] as const, buckets: [...LATENCY_BUCKETS], registers,
    }),
    batchSize: new Histogram({
      name: 'embedding_batch_size', help: 'Items per /embed/batch request',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], registers,
    }),
    encodeFailures: new Counter({
      name: 'embedding_encode_failures_total', help: 'Encodes that failed, by reason',
      labelNames: ['reason'] as const, registers,
    }),
    modelLoaded: new Gauge({ name: 'embedding_model_loaded', help: '1 once the model is loaded and warmed up', registers }),
    cacheHits: new Counter({ name: 'embedding_cache_hits_total', help: 'Embedding cache hits', registers }),
    cacheMisses: new Counter({ name: 'embedding_cache_misses_total', help: 'Embedding cache misses', registers }),
    activeRequests: new Gauge({ name: 'embedding_active_requests', help: 'Encodes running for HTTP requests', registers }),
    // Per source table (schema.table): several daemons, one per table, can share a dashboard.
    queueDepth: new Gauge({
      name: 'embedsync_queue_depth', help: 'Rows of the source waiting in the sync queue',
      labelNames: ['source'] as const, registers,
    }),
    oldestQueuedSeconds: new Gauge({
      name: 'embedsync_oldest_queued_seconds', help: 'Age of the source\'s oldest queued row',
      labelNames: ['source'] as const, registers,
    }),
    laneDepth: new Gauge({
      name: 'embedsync_queue_lane_depth', help: 'Rows of the source waiting in each queue lane (live, bulk)',
      labelNames: ['source', 'lane'] as const, registers,
    }),
    laneOldestSeconds: new Gauge({
      name: 'embedsync_queue_lane_oldest_seconds', help: 'Age of the latest change of the oldest row waiting in each lane',
      labelNames: ['source', 'lane'] as const, registers,
    }),
    liveFreshnessSeconds: new Histogram({
      name: 'embedsync_live_freshness_seconds', help: 'Live lane: time from a row change to its embedding being written',
      buckets: [...LAG_BUCKETS], registers,
    }),
    encoderWaitSeconds: new Histogram({
      name: 'embedsync_encoder_wait_seconds', help: 'Local encoder: time a run waited for a worker, by class (query, live, bulk)',
      labelNames: ['class'] as const, buckets: [...LATENCY_BUCKETS], registers,
    }),
    rowsEmbedded: new Counter({ name: 'embedsync_rows_embedded_total', help: 'Rows whose embedding the daemon wrote', registers }),
    deadletterRows: new Gauge({
      name: 'embedsync_deadletter_rows', help: 'Rows of the source in the dead-letter table',
      labelNames: ['source'] as const, registers,
    }),
    changeLogEntries: new Gauge({
      name: 'embedsync_change_log_entries', help: 'Changes in the source\'s change log, not moved into the queue yet',
      labelNames: ['source'] as const, registers,
    }),
    captureWalKeptBytes: new Gauge({
      name: 'embedsync_capture_wal_kept_bytes',
      help: 'Logical capture: bytes of WAL the server keeps for the source\'s slot (not read by a daemon yet)',
      labelNames: ['source'] as const, registers,
    }),
    changeToEmbeddingSeconds: new Histogram({
      name: 'embedsync_change_to_embedding_seconds', help: 'Time from a row change to its embedding being written',
      buckets: [...LAG_BUCKETS], registers,
    }),
    tokensTotal: new Counter({ name: 'embedsync_tokens_total', help: 'Tokens fed to the model', registers }),
    truncatedTotal: new Counter({ name: 'embedsync_truncated_total', help: 'Inputs cut to the model max length', registers }),
    chunksPerRow: new Histogram({
      name: 'embedsync_chunks_per_row', help: 'Chunked tables: chunks each encoded document was cut into',
      labelNames: ['source'] as const, buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128], registers,
    }),
    encodeSeconds: new Histogram({
      name: 'embedsync_encode_seconds', help: 'Encoder call duration by source (sync, http)',
      labelNames: ['source'] as const, buckets: [...LATENCY_BUCKETS], registers,
    }),
    encoderBusySeconds: new Counter({
      name: 'embedsync_encoder_busy_seconds_total',
      help: 'Local encoder time (tokenizing and model runs) by source (sync, http), as EMBEDSYNC_SYNC_SHARE counts it',
      labelNames: ['source'] as const, registers,
    }),
    encoderWorkerRestarts: new Counter({
      name: 'embedsync_encoder_worker_restarts_total', help: 'Encoder worker threads replaced, by reason (crashed, overrun)',
      labelNames: ['reason'] as const, registers,
    }),
    encoderTokensPerSecond: new Gauge({
      name: 'embedsync_encoder_tokens_per_second',
      help: 'Measured model speed of one encoder session (padded tokens per second, moving average)', registers,
    }),
    syncClaimRows: new Gauge({
      name: 'embedsync_sync_claim_rows', help: 'Rows per sync claim, sized so a claim takes about one model run per session', registers,
    }),
    modelMismatch: new Gauge({
      name: 'embedsync_model_mismatch',
      help: '1 while migrate has recorded another model for the source than this daemon runs (it writes nothing)',
      labelNames: ['source'] as const, registers,
    }),
    // Sweeps run once per table: only the daemon that ran a step counts it, so sum these over daemons.
    sweepRows: new Counter({
      name: 'embedsync_sweep_rows_total', help: 'Rows the reconciliation sweep looked at, by pass (changed, verify)',
      labelNames: ['pass'] as const, registers,
    }),
    sweepFound: new Counter({
      name: 'embedsync_sweep_found_total', help: 'Rows the reconciliation sweep enqueued, by pass',
      labelNames: ['pass'] as const, registers,
    }),
    sweepSeconds: new Counter({
      name: 'embedsync_sweep_seconds_total', help: 'Time spent in sweep steps (database round trips), by pass',
      labelNames: ['pass'] as const, registers,
    }),
    sweepPosition: new Gauge({
      name: 'embedsync_sweep_verify_position_rows', help: 'Rows verified so far in the current verification round', registers,
    }),
    sweepEstimatedRows: new Gauge({
      name: 'embedsync_sweep_verify_table_rows', help: 'Rows a verification round covers (planner estimate)', registers,
    }),
    sweepLastVerified: new Gauge({
      name: 'embedsync_sweep_last_verified_timestamp_seconds', help: 'When a verification round last covered the whole table (0: never)',
      registers,
    }),
  };
}
