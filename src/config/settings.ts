// Every setting embedsync reads (environment or embedsync.config.json), so that an unknown key in the config
// file fails with the nearest known name instead of being ignored. docs/configuration.md describes each one.
export const SETTINGS = [
  'DATABASE_URL',
  'EMBEDSYNC_TABLE', 'EMBEDSYNC_ID_COLUMN', 'EMBEDSYNC_TEXT_COLUMNS', 'EMBEDSYNC_DOCUMENT_SQL', 'EMBEDSYNC_EMBEDDING_COLUMN',
  'EMBEDSYNC_CHECKSUM_COLUMN', 'EMBEDSYNC_EMBEDDED_AT_COLUMN', 'EMBEDSYNC_TEXT_HASH_COLUMN',
  'EMBEDSYNC_BULK_ROWS', 'EMBEDSYNC_INDEX', 'EMBEDSYNC_INDEX_GROWTH_FACTOR', 'EMBEDSYNC_INDEX_MIN_ROWS', 'EMBEDSYNC_INDEX_BUILD_MEMORY',
  'EMBEDSYNC_VECTOR_TYPE', 'EMBEDSYNC_FULLTEXT_COLUMN', 'EMBEDSYNC_TEXT_SEARCH_CONFIG',
  'EMBEDDING_MODEL', 'EMBEDDING_DTYPE', 'EMBEDDING_SESSIONS', 'EMBEDDING_THREADS', 'EMBEDDING_RUN_SECONDS',
  'EMBEDDING_RUN_TIMEOUT_SECONDS', 'EMBEDDING_MAX_BATCH_TOKENS', 'EMBEDSYNC_CACHE_DIR', 'HF_HOME',
  'HF_ENDPOINT', 'HF_TOKEN', 'EMBEDDING_QUERY_PROMPT', 'EMBEDDING_DOCUMENT_PROMPT', 'EMBEDSYNC_SYNC_SHARE', 'EMBEDDING_INTERACTIVE_RUN_SECONDS',
  'EMBEDDING_BACKEND', 'EMBEDDING_ENDPOINT', 'EMBEDDING_API_KEY', 'EMBEDDING_REMOTE_MODEL', 'EMBEDDING_CHECKSUM',
  'EMBEDDING_CONCURRENCY', 'EMBEDDING_REMOTE_BATCH_SIZE', 'EMBEDDING_REMOTE_TIMEOUT_SECONDS', 'EMBEDDING_PROMPT_NAMES',
  'EMBEDDING_APPLY_PROMPTS',
  'EMBEDSYNC_BATCH_SIZE', 'EMBEDSYNC_DEBOUNCE_MS', 'EMBEDSYNC_POLL_INTERVAL_MS', 'EMBEDSYNC_SWEEP_INTERVAL_MS',
  'EMBEDSYNC_VERIFY_PERIOD_HOURS', 'EMBEDSYNC_VERIFY_MAX_ROWS_PER_SECOND', 'EMBEDSYNC_VERIFY_CHUNK_ROWS',
  'EMBEDSYNC_LEASE_SECONDS', 'EMBEDSYNC_MAX_ATTEMPTS', 'EMBEDSYNC_RETRY_BASE_MS', 'EMBEDSYNC_SHUTDOWN_TIMEOUT_MS', 'EMBEDSYNC_WORKERS', 'EMBEDSYNC_BULK_SHARE',
  'EMBEDSYNC_EXIT_ON_MODEL_CHANGE', 'EMBEDSYNC_CRASH_DRILL_TEXT', 'EMBEDSYNC_MEMORY_LIMIT',
  'HOST', 'PORT', 'MAX_BATCH_SIZE', 'MAX_TEXT_LENGTH', 'MAX_CONCURRENT_REQUESTS', 'MAX_QUEUED_REQUESTS', 'ENCODE_TIMEOUT_SECONDS',
  'RATE_LIMIT', 'RATE_LIMIT_BATCH', 'ALLOWED_ORIGINS', 'API_KEY', 'BODY_LIMIT_BYTES', 'BODY_TIMEOUT_SECONDS', 'TRUST_PROXY',
  'MODEL_WAIT_SECONDS', 'OPENAI_QUERY_MODEL', 'OPENAI_DOCUMENT_MODEL',
  'CACHE_ENABLED', 'CACHE_TTL_SECONDS', 'CACHE_MAX_SIZE', 'REDIS_URL',
  'LOG_LEVEL', 'OTEL_EXPORTER_OTLP_ENDPOINT',
] as const;
export type Setting = (typeof SETTINGS)[number];

/** The known setting closest to `key` (edit distance, case-insensitive), when one is close enough to be a typo. */
export function nearestSetting(key: string): Setting | undefined {
  const k = key.toUpperCase();
  let best: Setting | undefined;
  let bestDistance = Infinity;
  for (const s of SETTINGS) {
    const d = editDistance(k, s);
    if (d < bestDistance) [best, bestDistance] = [s, d];
  }
  return bestDistance <= Math.max(2, Math.floor(k.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}
