// Loading an ONNX model: its files, their digest (the model checksum's part), a fingerprint that tells whether
// they changed on disk, and the session options every encoder worker uses.
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

/** The ONNX file and its external data files (in name order): everything a session loads. */
export async function onnxFiles(path: string): Promise<string[]> {
  const dir = dirname(path);
  const externals = (await readdir(dir))
    .filter((f) => f !== basename(path) && f.startsWith(basename(path)) && /(_data|\.data)$/.test(f)).sort();
  return [path, ...externals.map((e) => join(dir, e))];
}

/** sha256 over the files' bytes, streamed: the event loop keeps turning between chunks. */
export async function hashFiles(files: readonly string[]): Promise<Buffer> {
  const hash = createHash('sha256');
  for (const f of files) {
    for await (const chunk of createReadStream(f, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  }
  return hash.digest();
}

/**
 * Size, modification time and inode of each file: taken before and after the files are hashed and loaded, so a
 * file replaced meanwhile is caught, and checked again before a replacement worker loads them.
 */
export async function filesFingerprint(files: readonly string[]): Promise<string> {
  const parts = await Promise.all(files.map(async (f) => {
    const s = await stat(f);
    return `${f}:${s.size}:${s.mtimeMs}:${s.ino}`;
  }));
  return parts.join('|');
}

/** Reads the bytes that will be loaded and hashes exactly those (benchmarks' bare sessions). */
export async function readOnnx(path: string): Promise<LoadedOnnx> {
  const files = await onnxFiles(path);
  const size = (await stat(path)).size;
  if (files.length === 1 && size <= IN_MEMORY_LIMIT) {
    const bytes = await readFile(path);
    return { digest: createHash('sha256').update(bytes).digest(), source: bytes };
  }
  return { digest: await hashFiles(files), source: path };
}

/** An ONNX Runtime session for the encoder: `threads` intra-op threads, no spinning between runs. */
export function createSession(loaded: Pick<LoadedOnnx, 'source'>, threads: number): Promise<ort.InferenceSession> {
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
