// Defaults that are more than a literal in the loader: named here because other rooms show or reuse them.

export const DEFAULT_MODEL = 'ai-forever/ru-en-RoSBERTa';
/** The sync worker's share of the encoder's time while the HTTP API also wants it (src/encoder/run-scheduler.ts). */
export const DEFAULT_SYNC_SHARE = 0.5;
/** Target duration of one model run (EMBEDDING_RUN_SECONDS): what a query waits for at most behind a run in flight. */
export const DEFAULT_RUN_SECONDS = 1;
/**
 * Run length while queries or live rows are about (src/encoder/run-sizer.ts): a query waits at most about this
 * long behind work in flight. Short runs cost a few percent of tokens/s, so they are used only then.
 */
export const DEFAULT_INTERACTIVE_RUN_SECONDS = 0.15;
/** Statements that change more rows than this go to the bulk lane (src/migration: the source triggers). */
export const DEFAULT_BULK_ROWS = 100;
/** The least share of each sync claim that goes to bulk rows while live rows wait too (sql/claim.sql). */
export const DEFAULT_BULK_SHARE = 0.2;

/**
 * Default sessions × threads for `cores`. Measured on 2 cores (bench/realmodel.ts, RoSBERTa int8): two
 * single-threaded sessions encode 1.1–1.2× the tokens/s of one session with two threads (small batches
 * parallelize poorly inside one run), for ~1.6× the memory. Past 4 cores, sessions of 4 threads keep memory in
 * check (each worker holds its own weights and tokenizer: ~400 MB for RoSBERTa int8).
 */
export function encoderLayout(cores: number): { readonly sessions: number; readonly threads: number } {
  const sessions = cores <= 2 ? cores : Math.max(2, Math.floor(cores / 4));
  return { sessions, threads: Math.max(1, Math.floor(cores / sessions)) };
}

/** Tokens a chunk repeats from the one before it (EMBEDSYNC_CHUNK_OVERLAP): a sentence or two of context. */
export const DEFAULT_CHUNK_OVERLAP = 64;
