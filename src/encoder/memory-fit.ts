// How many encoder sessions fit the memory where embedsync runs. Each session is a worker thread with its own
// copy of the weights, its own ONNX Runtime arena and its own tokenizer (onnxruntime-node shares none of them),
// so sessions are what memory scales with. Unless EMBEDDING_SESSIONS is set, the encoder runs as many of the
// sessions the cores call for as keep the expected peak under 80% of the limit, and logs the choice.
//
// The estimate, fitted to bench:realmodel (RoSBERTa-shaped int8, 24 layers, 512 MB of weights, runs of ~1 s):
// the service peaked at 613–643 MB with one session and 1,064–1,088 MB with two (docs/benchmarks.md). A
// session costs ~0.8× its weight files (the int8 graph's fp32 embedding table is paged in only where it is
// read) plus the tokenizer, parsed, ~5× its JSON; the process around the sessions (Node.js, the HTTP API, the
// database pools, the vector cache) ~250 MB.
import type { MemoryLimit } from '../config/index.ts';

export const PROCESS_BASE_BYTES = 250 * 2 ** 20;
export const WEIGHTS_FACTOR = 0.8;
export const TOKENIZER_FACTOR = 5;
/** The share of the limit the expected peak may take: the rest is headroom for what the estimate misses. */
export const MEMORY_SHARE = 0.8;

export interface ModelBytes {
  /** The ONNX file and its external data files. */
  readonly weights: number;
  readonly tokenizerJson: number;
}

export function sessionBytes(m: ModelBytes): number {
  return m.weights * WEIGHTS_FACTOR + m.tokenizerJson * TOKENIZER_FACTOR;
}

export function estimatePeakBytes(sessions: number, m: ModelBytes): number {
  return PROCESS_BASE_BYTES + sessions * sessionBytes(m);
}

export interface SessionFit {
  readonly sessions: number;
  readonly threads: number;
  readonly estimateBytes: number;
  /** Even one session is expected to exceed the share of the limit. */
  readonly tight: boolean;
  /** Fewer sessions than the cores call for, for memory. */
  readonly reduced: boolean;
}

/**
 * The most sessions (up to `wanted.sessions`) whose expected peak stays under MEMORY_SHARE of the limit, at
 * least one. With fewer sessions the threads follow the cores, unless EMBEDDING_THREADS was set.
 */
export function fitSessions(wanted: { sessions: number; threads: number }, auto: { cores: number; threadsSet: boolean },
  limit: MemoryLimit, m: ModelBytes): SessionFit {
  const budget = limit.bytes * MEMORY_SHARE;
  let sessions = wanted.sessions;
  while (sessions > 1 && estimatePeakBytes(sessions, m) > budget) sessions -= 1;
  const reduced = sessions < wanted.sessions;
  const threads = reduced && !auto.threadsSet ? Math.max(1, Math.floor(auto.cores / sessions)) : wanted.threads;
  const estimateBytes = estimatePeakBytes(sessions, m);
  return { sessions, threads, estimateBytes, tight: estimateBytes > budget, reduced };
}
