// One ONNX Runtime session per model file per process, shared by every encoder that loads it, with runs
// serialized (each run already uses all intra-op threads; overlapping runs would only fight over cores) and
// shared fairly between the sync worker and the HTTP API (run-scheduler.ts).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DEFAULT_SYNC_SHARE, RunScheduler } from './run-scheduler.ts';
import type { EncodeSource } from './types.ts';

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

export interface SharedSession {
  /** The underlying session, for measuring the encoder against a bare run on the very same session. */
  readonly raw: ort.InferenceSession;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Decides whose run goes next; also counts tokenizing time towards a source's share. */
  readonly scheduler: RunScheduler;
  run(feeds: Record<string, ort.Tensor>, source: EncodeSource, signal?: AbortSignal): Promise<ort.InferenceSession.ReturnType>;
  release(): Promise<void>;
}

interface Entry {
  readonly session: Promise<ort.InferenceSession>;
  users: number;
  readonly scheduler: RunScheduler;
}

const sessions = new Map<string, Entry>();

/**
 * The process-wide session for this model file (same bytes, same thread count), created on first use.
 * `syncShare`: the sync worker's share of the session's time while the HTTP API wants it too.
 */
export async function acquireSession(loaded: LoadedOnnx, threads: number, syncShare = DEFAULT_SYNC_SHARE): Promise<SharedSession> {
  const key = `${loaded.digest.toString('hex')}:${threads}`;
  let entry = sessions.get(key);
  if (!entry) {
    const options: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // No busy-waiting between runs: the pool's spinning threads would take the cores the JS thread needs
      // for tokenizing the next batch, and those of Postgres or the HTTP API on the same machine (measured:
      // runs ~1.5x and tokenizing ~3x slower with spinning on a loaded 2-core machine).
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    };
    const session = typeof loaded.source === 'string'
      ? ort.InferenceSession.create(loaded.source, options)
      : ort.InferenceSession.create(loaded.source, options);
    entry = { session, users: 0, scheduler: new RunScheduler(syncShare) };
    sessions.set(key, entry);
    session.catch(() => sessions.delete(key));
  }
  const e = entry;
  e.scheduler.syncShare = syncShare;
  const session = await e.session;
  e.users += 1;
  let released = false;
  return {
    raw: session,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    scheduler: e.scheduler,
    run(feeds, source, signal) {
      return e.scheduler.run(source, () => session.run(feeds), signal);
    },
    async release() {
      if (released) return;
      released = true;
      e.users -= 1;
      if (e.users === 0 && sessions.get(key) === e) {
        sessions.delete(key);
        await e.scheduler.idle();
        await session.release();
      }
    },
  };
}
