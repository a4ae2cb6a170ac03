// The shape of a loaded configuration, one interface per section (source table, model, sync, HTTP, cache).
import type { Backend, Capture, Chunking, Dtype, IndexKind, LogLevel, VectorType } from './choices.ts';
import type { QualifiedName } from './identifiers.ts';
import type { RateLimit } from './parsers.ts';
import type { MemoryLimit } from './memory-limit.ts';

export interface SourceConfig {
  readonly table: QualifiedName;
  readonly idColumn: string;
  readonly textColumns: readonly string[];
  /** Overrides textColumns for building the document; an SQL expression over the row. */
  readonly documentSql: string | undefined;
  readonly embeddingColumn: string;
  readonly checksumColumn: string;
  readonly embeddedAtColumn: string;
  /** md5 of the document the stored embedding was made from (uuid), so unchanged text is never re-encoded. */
  readonly textHashColumn: string;
  /** Statements changing more rows than this enqueue them in the bulk lane (EMBEDSYNC_BULK_ROWS). */
  readonly bulkRows: number;
  /** EMBEDSYNC_CAPTURE: triggers or logical decoding; undefined: migrate keeps what the table has (triggers when new). */
  readonly capture?: Capture | undefined;
  readonly index: IndexKind;
  /** Rebuild an ivfflat index once the row count moved by more than this factor since its build. */
  readonly indexGrowthFactor: number;
  /** Fewest rows to train an ivfflat index on. */
  readonly indexMinRows: number;
  /** maintenance_work_mem for index builds, e.g. 512MB. */
  readonly indexBuildMemory: string;
  /** vector or halfvec: the type of the embedding column, its index's operator class and the search functions' casts. */
  readonly vectorType: VectorType;
  /** tsvector of the document, written with the vector, for hybrid (full-text + vector) search. */
  readonly fulltextColumn: string;
  /** Text search configuration of that tsvector and of the queries against it (e.g. simple, russian). */
  readonly textSearchConfig: string;
  /** none: one vector per row; tokens: the document cut into chunks of the model's tokens, a vector each (docs/chunking.md). */
  readonly chunking: Chunking;
  /** Content tokens per chunk; undefined: the model's limit less its document prompt. */
  readonly chunkTokens: number | undefined;
  /** Tokens a chunk repeats from the end of the one before it. */
  readonly chunkOverlap: number;
}

export interface ModelConfig {
  /** Local folder or hub id. */
  readonly model: string;
  readonly dtype: Dtype;
  /** Local backend: worker threads, each with its own ONNX Runtime session. */
  readonly sessions: number;
  /** Intra-op threads of each session. */
  readonly threads: number;
  readonly maxBatchTokens: number;
  /** Local backend: target duration of one model run; runs and sync claims are sized to it. */
  readonly runSeconds: number;
  /** Local backend: a run this much longer than planned is abandoned and its worker replaced. */
  readonly runTimeoutMs: number;
  readonly cacheDir: string;
  readonly hfEndpoint: string;
  readonly hfToken: string | undefined;
  readonly backend: Backend;
  readonly endpoint: string | undefined;
  readonly apiKey: string | undefined;
  /** Model name the remote expects (OpenAI `model`, TEI ignores it). */
  readonly remoteModel: string | undefined;
  /** Optional identity pin for remotes that report none (OpenAI-compatible). */
  readonly checksumPin: string | undefined;
  readonly concurrency: number;
  /** Most inputs per request to a remote (its own reported limit applies too). */
  readonly remoteBatchSize: number | undefined;
  readonly remoteTimeoutMs: number;
  /** TEI prompt_name per role: the remote applies its own prompts instead of the daemon prepending them. */
  readonly promptNames: Readonly<Record<'query' | 'document', string>> | undefined;
  /** Whether embedsync prepends the query/document prompts before sending to a remote. */
  readonly applyPrompts: boolean;
  readonly queryPrompt: string | undefined;
  readonly documentPrompt: string | undefined;
  /** Local backend: the sync worker's share of the encoder's time while the HTTP API wants it too. */
  readonly syncShare: number;
  /** Run length while interactive work (queries, live rows) is about (EMBEDDING_INTERACTIVE_RUN_SECONDS). */
  readonly interactiveRunSeconds: number;
  /**
   * Crash drills only (EMBEDSYNC_CRASH_DRILL_TEXT): a text containing this ends the whole process at once, as a
   * native crash in ONNX Runtime or an out-of-memory kill would. Never set in production.
   */
  readonly crashDrillText: string | undefined;
  /** The memory embedsync may use (EMBEDSYNC_MEMORY_LIMIT, else the container's limit or the machine's memory). */
  readonly memoryLimit: MemoryLimit | undefined;
  /**
   * Set when EMBEDDING_SESSIONS is not: the local encoder may run fewer sessions than `sessions` so that its
   * expected peak stays under 80% of memoryLimit (src/encoder/memory-fit.ts); threads then follow the cores.
   */
  readonly autoSessions: { readonly cores: number; readonly threadsSet: boolean } | undefined;
}

export interface SyncConfig {
  readonly batchSize: number;
  readonly debounceMs: number;
  readonly pollIntervalMs: number;
  /** How often each daemon looks for new rows and due work (EMBEDSYNC_WATCH_INTERVAL_MS): application writes send no NOTIFY. */
  readonly watchIntervalMs: number;
  /** The cheap sweep pass (rows with no vector or another model's): how often, per table. */
  readonly sweepIntervalMs: number;
  /** The full text-hash verification: one round over the table per period at most. */
  readonly verifyPeriodMs: number;
  readonly verifyMaxRowsPerSecond: number;
  readonly verifyChunkRows: number;
  readonly leaseSeconds: number;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly shutdownTimeoutMs: number;
  /** Claim/encode/write loops per daemon: one encodes while another writes. */
  readonly workers: number;
  /** Least share of each claim that goes to bulk rows while live rows are waiting too (EMBEDSYNC_BULK_SHARE). */
  readonly bulkShare: number;
  /** Exit (non-zero) once migrate records another model, so an orchestrator restarts with the new config. */
  readonly exitOnModelChange: boolean;
}

export interface HttpConfig {
  readonly host: string;
  readonly port: number;
  readonly maxBatchSize: number;
  readonly maxTextLength: number;
  readonly maxConcurrentRequests: number;
  readonly maxQueuedRequests: number;
  readonly encodeTimeoutMs: number;
  readonly rateLimit: RateLimit;
  readonly rateLimitBatch: RateLimit;
  readonly allowedOrigins: readonly string[];
  readonly apiKey: string | undefined;
  readonly bodyLimitBytes: number;
  /** Behind a reverse proxy: trust X-Forwarded-For from it (true, or its addresses/CIDRs), so rate limits see clients. */
  readonly trustProxy: boolean | readonly string[];
  /** Time a client has to send a request body (slow senders are answered 408 and disconnected). */
  readonly bodyTimeoutMs: number;
  /** How long an embedding request waits for a model that is still loading before it is answered 503. */
  readonly modelWaitMs: number;
  /** OpenAI model names that select the query / document prompt (default: `<model>-query`, `<model>-document`). */
  readonly modelAliases: { readonly query: string | undefined; readonly document: string | undefined };
}

export interface CacheConfig {
  readonly enabled: boolean;
  readonly ttlSeconds: number;
  readonly maxSize: number;
  readonly redisUrl: string | undefined;
}

/**
 * Which tables `embedsync run` serves (EMBEDSYNC_TABLE): one, configured by the EMBEDSYNC_* source settings
 * (config.source); or several, a comma-separated list or `*` (every table migrate recorded), each with the
 * settings migrate recorded for it.
 */
export type TableSelection =
  | { readonly kind: 'one' }
  | { readonly kind: 'list'; readonly tables: readonly QualifiedName[] }
  | { readonly kind: 'all' };

export interface Config {
  /** undefined: connect with libpq's PG* variables. */
  readonly databaseUrl: string | undefined;
  /** With one table, the table; with several, the first of the list (or the default table for `*`). */
  readonly source: SourceConfig;
  readonly tables: TableSelection;
  readonly model: ModelConfig;
  readonly sync: SyncConfig;
  readonly http: HttpConfig;
  readonly cache: CacheConfig;
  readonly logLevel: LogLevel;
  readonly otelEndpoint: string | undefined;
}

export type Env = Readonly<Record<string, string | undefined>>;
