// Reads embedsync's settings from the environment (and optionally embedsync.config.json, same keys),
// validates all of them and reports every problem at once. Env wins over the file.
// Every setting is read here, in this one file: docs/operations.md names it as the list of settings.
import { join } from 'node:path';
import {
  BACKENDS, CAPTURES, CHUNKINGS, DTYPES, INDEX_KINDS, LOG_LEVELS, VECTOR_TYPES,
  type Backend, type Capture, type Chunking, type Dtype, type IndexKind, type LogLevel, type VectorType,
} from './choices.ts';
import { definedOnly, readConfigFile } from './config-file.ts';
import {
  DEFAULT_BULK_ROWS, DEFAULT_CHUNK_OVERLAP, DEFAULT_BULK_SHARE, DEFAULT_INTERACTIVE_RUN_SECONDS, DEFAULT_MODEL, DEFAULT_RUN_SECONDS,
  DEFAULT_SYNC_SHARE, encoderLayout,
} from './defaults.ts';
import { identifierProblem, parseQualifiedName } from './identifiers.ts';
import { parseMemorySize, type MemoryLimit } from './memory-limit.ts';
import {
  parseBoolean, parseEnum, parseInteger, parseList, parseNumber, parsePromptNames, parseRate, parseUrl, type Parsed,
} from './parsers.ts';
import type { CacheConfig, Config, Env, HttpConfig, ModelConfig, SourceConfig, SyncConfig, TableSelection } from './types.ts';
import type { QualifiedName } from './identifiers.ts';

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
      problems.map((p) => `  - ${p}`).join('\n'));
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** Path of embedsync.config.json; read when it exists. */
  readonly configFile?: string;
  /** The path was given (EMBEDSYNC_CONFIG): a missing file is a problem, not a default to skip. */
  readonly configFileRequired?: boolean;
  /** The machine's cores: EMBEDDING_SESSIONS × EMBEDDING_THREADS are chosen from them (encoderLayout). */
  readonly cores?: number;
  readonly homeDir?: string;
  /** The memory limit where embedsync runs (readMemoryLimit); EMBEDSYNC_MEMORY_LIMIT overrides it. */
  readonly memory?: MemoryLimit;
}

/** What the process reads before the configuration itself: where the config file is, the home folder, stack traces. */
export interface ProcessSettings {
  /** EMBEDSYNC_CONFIG, else embedsync.config.json in the working directory. */
  readonly configFile: string;
  /** EMBEDSYNC_CONFIG was set: its file must exist. */
  readonly configFileRequired: boolean;
  /** HOME: the default model cache is under it. */
  readonly homeDir: string;
  /** EMBEDSYNC_DEBUG: errors are printed with their stack traces. */
  readonly debug: boolean;
  /** DATABASE_URL, EMBEDDING_MODEL and HF_ENDPOINT as given, for the error message when the configuration did not load. */
  readonly asGiven: {
    readonly databaseUrl: string | undefined;
    readonly model: string | undefined;
    readonly hfEndpoint: string | undefined;
  };
}

export function readProcessSettings(env: Env, cwd: string): ProcessSettings {
  const configPath = env['EMBEDSYNC_CONFIG'] || undefined;
  return {
    configFile: configPath ?? join(cwd, 'embedsync.config.json'),
    configFileRequired: configPath !== undefined,
    homeDir: env['HOME'] ?? cwd,
    debug: Boolean(env['EMBEDSYNC_DEBUG']),
    asGiven: { databaseUrl: env['DATABASE_URL'], model: env['EMBEDDING_MODEL'], hfEndpoint: env['HF_ENDPOINT'] },
  };
}

/** Builds a Config from env (+ config file); throws ConfigError listing every problem. */
export function loadConfig(env: Env, options: LoadOptions = {}): Config {
  const problems: string[] = [];
  const merged: Record<string, string | undefined> = {
    ...readConfigFile(options.configFile, problems, options.configFileRequired), ...definedOnly(env),
  };

  const raw = (key: string): string | undefined => {
    const v = merged[key];
    return v === undefined || v === '' ? undefined : v;
  };
  function get<T>(key: string, fallback: T, parse: (s: string) => Parsed<T>): T {
    const v = raw(key);
    if (v === undefined) return fallback;
    const r = parse(v);
    if (r.ok) return r.value;
    problems.push(`${key} ${r.problem}`);
    return fallback;
  }
  const int = (key: string, fallback: number, min: number, max: number) => get(key, fallback, (s) => parseInteger(s, min, max));
  const ident = (key: string, fallback: string): string =>
    get(key, fallback, (s) => {
      const p = identifierProblem(s);
      return p ? { ok: false, problem: `(${JSON.stringify(s)}) ${p}` } : { ok: true, value: s };
    });

  const tableRaw = raw('EMBEDSYNC_TABLE') ?? 'leads';
  const { selection: tables, first: tableParsed } = parseTableSelection(tableRaw, problems);
  const textColumns = get('EMBEDSYNC_TEXT_COLUMNS', ['title', 'description'] as readonly string[], (s) => {
    const list = parseList(s);
    if (!list.ok) return list;
    const bad = list.value.map((c) => [c, identifierProblem(c)] as const).filter(([, p]) => p !== null);
    return bad.length ? { ok: false, problem: bad.map(([c, p]) => `column ${JSON.stringify(c)} ${p}`).join('; ') } : list;
  });
  const documentSql = raw('EMBEDSYNC_DOCUMENT_SQL');
  if (documentSql !== undefined && /;|--|\/\*/.test(documentSql)) {
    problems.push('EMBEDSYNC_DOCUMENT_SQL must be a single SQL expression (no ;, -- or /* comments)');
  }
  const source: SourceConfig = {
    table: tableParsed.value ?? { schema: 'public', name: 'leads' },
    idColumn: ident('EMBEDSYNC_ID_COLUMN', 'id'),
    textColumns,
    documentSql,
    embeddingColumn: ident('EMBEDSYNC_EMBEDDING_COLUMN', 'embedding'),
    checksumColumn: ident('EMBEDSYNC_CHECKSUM_COLUMN', 'model_checksum'),
    embeddedAtColumn: ident('EMBEDSYNC_EMBEDDED_AT_COLUMN', 'embedded_at'),
    textHashColumn: ident('EMBEDSYNC_TEXT_HASH_COLUMN', 'embedding_text_hash'),
    bulkRows: int('EMBEDSYNC_BULK_ROWS', DEFAULT_BULK_ROWS, 0, 1_000_000_000),
    capture: get('EMBEDSYNC_CAPTURE', undefined as Capture | undefined, (s) => parseEnum(s, CAPTURES)),
    index: get('EMBEDSYNC_INDEX', 'ivfflat' as IndexKind, (s) => parseEnum(s, INDEX_KINDS)),
    indexGrowthFactor: get('EMBEDSYNC_INDEX_GROWTH_FACTOR', 2, (s) => parseNumber(s, 1.1, 1000)),
    indexMinRows: int('EMBEDSYNC_INDEX_MIN_ROWS', 1000, 10, 1_000_000_000),
    indexBuildMemory: get('EMBEDSYNC_INDEX_BUILD_MEMORY', '512MB', (s) =>
      /^[1-9]\d*(kB|MB|GB)$/.test(s) ? { ok: true, value: s }
        : { ok: false, problem: `(${JSON.stringify(s)}) must be a size like 512MB or 2GB` }),
    vectorType: get('EMBEDSYNC_VECTOR_TYPE', 'vector' as VectorType, (s) => parseEnum(s, VECTOR_TYPES)),
    fulltextColumn: ident('EMBEDSYNC_FULLTEXT_COLUMN', 'embedding_tsv'),
    // A configuration name (pg_catalog's simple, russian, english... or schema.name): spliced into SQL as a literal.
    textSearchConfig: get('EMBEDSYNC_TEXT_SEARCH_CONFIG', 'simple', (s) =>
      /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/.test(s) ? { ok: true, value: s }
        : { ok: false, problem: `(${JSON.stringify(s)}) must be a text search configuration name like simple or russian ` +
          '(lower case, optionally schema.name)' }),
    chunking: get('EMBEDSYNC_CHUNKING', 'none' as Chunking, (s) => parseEnum(s, CHUNKINGS)),
    chunkTokens: get('EMBEDSYNC_CHUNK_TOKENS', undefined as number | undefined, (s) => parseInteger(s, 16, 100_000)),
    chunkOverlap: int('EMBEDSYNC_CHUNK_OVERLAP', DEFAULT_CHUNK_OVERLAP, 0, 100_000),
  };
  if (source.chunkTokens !== undefined && source.chunkOverlap * 2 > source.chunkTokens) {
    problems.push(`EMBEDSYNC_CHUNK_OVERLAP (${source.chunkOverlap}) must be at most half of ` +
      `EMBEDSYNC_CHUNK_TOKENS (${source.chunkTokens})`);
  }
  const managed = [source.idColumn, source.embeddingColumn, source.checksumColumn, source.embeddedAtColumn, source.textHashColumn,
    source.fulltextColumn];
  if (new Set(managed).size !== managed.length) {
    problems.push('EMBEDSYNC_ID_COLUMN, EMBEDSYNC_EMBEDDING_COLUMN, EMBEDSYNC_CHECKSUM_COLUMN, EMBEDSYNC_EMBEDDED_AT_COLUMN, ' +
      'EMBEDSYNC_TEXT_HASH_COLUMN and EMBEDSYNC_FULLTEXT_COLUMN must all differ');
  }
  for (const c of source.textColumns) {
    if (managed.slice(1).includes(c)) problems.push(`EMBEDSYNC_TEXT_COLUMNS names ${c}, which embedsync writes itself`);
  }

  const backend = get('EMBEDDING_BACKEND', 'local' as Backend, (s) => parseEnum(s, BACKENDS));
  const endpoint = get('EMBEDDING_ENDPOINT', undefined as string | undefined, (s) => parseUrl(s, ['http:', 'https:']));
  if (backend !== 'local' && endpoint === undefined) problems.push(`EMBEDDING_ENDPOINT is required when EMBEDDING_BACKEND=${backend}`);
  if (backend !== 'local' && source.chunking !== 'none') {
    problems.push(`EMBEDSYNC_CHUNKING=${source.chunking} counts tokens with the model's own tokenizer, ` +
      'which runs with EMBEDDING_BACKEND=local only (docs/chunking.md)');
  }
  if (raw('EMBEDDING_PROMPT_NAMES') !== undefined && backend !== 'tei') {
    problems.push('EMBEDDING_PROMPT_NAMES applies to EMBEDDING_BACKEND=tei only');
  }
  const home = options.homeDir ?? '.';
  const cores = Math.max(1, options.cores ?? 1);
  const auto = encoderLayout(cores);
  const sessionsSet = raw('EMBEDDING_SESSIONS') !== undefined;
  const threadsSet = raw('EMBEDDING_THREADS') !== undefined;
  const sessions = int('EMBEDDING_SESSIONS', threadsSet ? 1 : auto.sessions, 1, 64);
  const threads = int('EMBEDDING_THREADS', sessionsSet ? Math.max(1, Math.floor(cores / sessions)) : auto.threads, 1, 256);
  // Only EMBEDDING_THREADS given: as many sessions as fit the cores at that many threads each.
  const layout = { sessions: threadsSet && !sessionsSet ? Math.max(1, Math.floor(cores / threads)) : sessions, threads };
  const model: ModelConfig = {
    model: raw('EMBEDDING_MODEL') ?? DEFAULT_MODEL,
    dtype: get('EMBEDDING_DTYPE', 'fp32' as Dtype, (s) => parseEnum(s, DTYPES)),
    ...layout,
    maxBatchTokens: int('EMBEDDING_MAX_BATCH_TOKENS', 8192, 16, 1 << 20),
    runSeconds: get('EMBEDDING_RUN_SECONDS', DEFAULT_RUN_SECONDS, (s) => parseNumber(s, 0.05, 60)),
    runTimeoutMs: Math.round(get('EMBEDDING_RUN_TIMEOUT_SECONDS', 120, (s) => parseNumber(s, 1, 3600)) * 1000),
    cacheDir: raw('EMBEDSYNC_CACHE_DIR') ?? raw('HF_HOME') ?? `${home}/.cache/embedsync`,
    hfEndpoint: get('HF_ENDPOINT', 'https://huggingface.co', (s) => parseUrl(s, ['http:', 'https:'])),
    hfToken: raw('HF_TOKEN'),
    backend,
    endpoint,
    apiKey: raw('EMBEDDING_API_KEY'),
    remoteModel: raw('EMBEDDING_REMOTE_MODEL'),
    checksumPin: raw('EMBEDDING_CHECKSUM'),
    concurrency: int('EMBEDDING_CONCURRENCY', 2, 1, 64),
    remoteBatchSize: get('EMBEDDING_REMOTE_BATCH_SIZE', undefined as number | undefined, (s) => parseInteger(s, 1, 100_000)),
    remoteTimeoutMs: Math.round(get('EMBEDDING_REMOTE_TIMEOUT_SECONDS', 60, (s) => parseNumber(s, 0.1, 3600)) * 1000),
    promptNames: get('EMBEDDING_PROMPT_NAMES', undefined as Readonly<Record<'query' | 'document', string>> | undefined, parsePromptNames),
    applyPrompts: get('EMBEDDING_APPLY_PROMPTS', true, parseBoolean),
    queryPrompt: merged['EMBEDDING_QUERY_PROMPT'],
    documentPrompt: merged['EMBEDDING_DOCUMENT_PROMPT'],
    // Both sides keep some of the encoder: 0 or 1 would let one starve the other.
    syncShare: get('EMBEDSYNC_SYNC_SHARE', DEFAULT_SYNC_SHARE, (s) => parseNumber(s, 0.05, 0.95)),
    interactiveRunSeconds: get('EMBEDDING_INTERACTIVE_RUN_SECONDS', DEFAULT_INTERACTIVE_RUN_SECONDS, (s) => parseNumber(s, 0.01, 60)),
    crashDrillText: raw('EMBEDSYNC_CRASH_DRILL_TEXT'),
    memoryLimit: get('EMBEDSYNC_MEMORY_LIMIT', options.memory, (s) => {
      const r = parseMemorySize(s);
      return r.ok ? { ok: true, value: { bytes: r.value, source: 'EMBEDSYNC_MEMORY_LIMIT' as const } } : r;
    }),
    autoSessions: sessionsSet ? undefined : { cores, threadsSet },
  };

  const maxBatchSize = int('MAX_BATCH_SIZE', 128, 1, 10_000);
  const sync: SyncConfig = {
    batchSize: int('EMBEDSYNC_BATCH_SIZE', maxBatchSize, 1, 10_000),
    debounceMs: int('EMBEDSYNC_DEBOUNCE_MS', 20, 0, 10_000),
    pollIntervalMs: int('EMBEDSYNC_POLL_INTERVAL_MS', 2000, 50, 3_600_000),
    watchIntervalMs: int('EMBEDSYNC_WATCH_INTERVAL_MS', 100, 10, 60_000),
    sweepIntervalMs: int('EMBEDSYNC_SWEEP_INTERVAL_MS', 60_000, 1000, 86_400_000),
    verifyPeriodMs: Math.round(get('EMBEDSYNC_VERIFY_PERIOD_HOURS', 24, (s) => parseNumber(s, 0.0001, 8760)) * 3_600_000),
    verifyMaxRowsPerSecond: int('EMBEDSYNC_VERIFY_MAX_ROWS_PER_SECOND', 2000, 1, 1_000_000),
    verifyChunkRows: int('EMBEDSYNC_VERIFY_CHUNK_ROWS', 1000, 1, 100_000),
    leaseSeconds: int('EMBEDSYNC_LEASE_SECONDS', 60, 1, 86_400),
    maxAttempts: int('EMBEDSYNC_MAX_ATTEMPTS', 5, 1, 1000),
    retryBaseMs: int('EMBEDSYNC_RETRY_BASE_MS', 1000, 1, 3_600_000),
    shutdownTimeoutMs: int('EMBEDSYNC_SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    workers: int('EMBEDSYNC_WORKERS', 2, 1, 32),
    bulkShare: get('EMBEDSYNC_BULK_SHARE', DEFAULT_BULK_SHARE, (s) => parseNumber(s, 0, 1)),
    exitOnModelChange: get('EMBEDSYNC_EXIT_ON_MODEL_CHANGE', false, parseBoolean),
  };

  const http: HttpConfig = {
    host: raw('HOST') ?? '0.0.0.0',
    port: int('PORT', 8000, 0, 65_535),
    maxBatchSize,
    maxTextLength: int('MAX_TEXT_LENGTH', 10_000, 1, 100_000_000),
    maxConcurrentRequests: int('MAX_CONCURRENT_REQUESTS', 6, 1, 1024),
    maxQueuedRequests: int('MAX_QUEUED_REQUESTS', 64, 0, 100_000),
    encodeTimeoutMs: Math.round(get('ENCODE_TIMEOUT_SECONDS', 30, (s) => parseNumber(s, 0.001, 86_400)) * 1000),
    rateLimit: get('RATE_LIMIT', { max: 100, windowMs: 60_000, text: '100/minute' }, parseRate),
    rateLimitBatch: get('RATE_LIMIT_BATCH', { max: 20, windowMs: 60_000, text: '20/minute' }, parseRate),
    allowedOrigins: get('ALLOWED_ORIGINS', ['*'] as readonly string[], parseList),
    apiKey: raw('API_KEY'),
    bodyLimitBytes: int('BODY_LIMIT_BYTES', 0, 0, 1 << 30),
    trustProxy: get('TRUST_PROXY', false as boolean | readonly string[], (s) => (parseBoolean(s).ok ? parseBoolean(s) : parseList(s))),
    bodyTimeoutMs: Math.round(get('BODY_TIMEOUT_SECONDS', 30, (s) => parseNumber(s, 0.001, 3600)) * 1000),
    modelWaitMs: Math.round(get('MODEL_WAIT_SECONDS', 10, (s) => parseNumber(s, 0, 600)) * 1000),
    modelAliases: { query: raw('OPENAI_QUERY_MODEL'), document: raw('OPENAI_DOCUMENT_MODEL') },
  };
  if (http.modelAliases.query !== undefined && http.modelAliases.query === http.modelAliases.document) {
    problems.push('OPENAI_QUERY_MODEL and OPENAI_DOCUMENT_MODEL must differ');
  }

  const cache: CacheConfig = {
    enabled: get('CACHE_ENABLED', true, parseBoolean),
    ttlSeconds: int('CACHE_TTL_SECONDS', 3600, 0, 365 * 86_400),
    maxSize: int('CACHE_MAX_SIZE', 10_000, 0, 100_000_000),
    redisUrl: get('REDIS_URL', undefined as string | undefined, (s) => parseUrl(s, ['redis:', 'rediss:'])),
  };

  const databaseUrl = get('DATABASE_URL', undefined as string | undefined, (s) => parseUrl(s, ['postgres:', 'postgresql:']));
  const logLevel = get('LOG_LEVEL', 'info' as LogLevel, (s) => parseEnum(s, LOG_LEVELS));
  const otelEndpoint = get('OTEL_EXPORTER_OTLP_ENDPOINT', undefined as string | undefined, (s) => parseUrl(s, ['http:', 'https:']));

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    databaseUrl, source, tables, model, sync,
    // The body limit follows the text limit unless set: a few bytes per char (UTF-8 + JSON escapes) per item.
    http: {
      ...http,
      bodyLimitBytes: http.bodyLimitBytes || Math.max(1 << 20, http.maxTextLength * 6 * Math.min(http.maxBatchSize, 256) + 65_536),
    },
    cache, logLevel, otelEndpoint,
  };
}

/** EMBEDSYNC_TABLE: `table`, `schema.table`, a comma-separated list of them, or `*` (every migrated table). */
function parseTableSelection(raw: string, problems: string[]): { selection: TableSelection; first: { value?: QualifiedName } } {
  if (raw.trim() === '*') return { selection: { kind: 'all' }, first: { value: { schema: 'public', name: 'leads' } } };
  const names = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const tables: QualifiedName[] = [];
  for (const n of names) {
    const p = parseQualifiedName(n);
    if (p.problem) problems.push(`EMBEDSYNC_TABLE (${JSON.stringify(n)}) ${p.problem}`);
    else if (!tables.some((t) => t.schema === p.value!.schema && t.name === p.value!.name)) tables.push(p.value!);
  }
  if (names.length === 0) problems.push('EMBEDSYNC_TABLE is empty: name a table, a comma-separated list, or * for every migrated table');
  const first = tables[0] ? { value: tables[0] } : {};
  return { selection: names.length > 1 ? { kind: 'list', tables } : { kind: 'one' }, first };
}
