// Loading an ONNX model for an encoder worker: the bytes that are hashed are the bytes that are loaded, and the
// session options every worker uses.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

/** Above this, ONNX files are hashed streaming and loaded by path (protobuf's 2 GB limit means external data). */
const IN_MEMORY_LIMIT = 1 << 30;

export interface LoadedOnnx {
  /** sha256 over the ONNX file bytes (and its external data files, in name order). */
  readonly digest: Buffer;
  readonly source: Uint8Array | string;
}

/** Reads the bytes that will be loaded and hashes exactly those. */
export async function readOnnx(path: string): Promise<LoadedOnnx> {
  const dir = dirname(path);
  const externals = (await readdir(dir)).filter((f) => f !== basename(path) && f.startsWith(basename(path)) && /(_data|\.data)$/.test(f)).sort();
  const size = (await stat(path)).size;
  if (externals.length === 0 && size <= IN_MEMORY_LIMIT) {
    const bytes = await readFile(path);
    return { digest: createHash('sha256').update(bytes).digest(), source: bytes };
  }
  const hash = createHash('sha256');
  for (const f of [path, ...externals.map((e) => join(dir, e))]) {
    for await (const chunk of createReadStream(f)) hash.update(chunk as Buffer);
  }
  return { digest: hash.digest(), source: path };
}

/** An ONNX Runtime session for the encoder: `threads` intra-op threads, no spinning between runs. */
export function createSession(loaded: LoadedOnnx, threads: number): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // No busy-waiting between runs: the pool's spinning threads would take the cores the other sessions, the
    // main thread and Postgres on the same machine need (measured: runs ~1.5x and tokenizing ~3x slower with
    // spinning on a loaded 2-core machine).
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
  return typeof loaded.source === 'string'
    ? ort.InferenceSession.create(loaded.source, options)
    : ort.InferenceSession.create(loaded.source, options);
}
