// The encoder module's public face: createEncoder(modelConfig) → Encoder (see types.ts for the contract).
//
// The local backend loads EMBEDDING_MODEL as a folder, or as a hub id `org/name[@revision]` downloaded into
// the cache folder on first use. Vectors are always L2-normalized (info.normalize reports whether the model
// itself declares a Normalize module; the checksum covers that setting either way).
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { createLocalEncoder } from './local-encoder.ts';
import { ModelFolderError } from './model-folder.ts';
import type { RemoteLogger } from './remote/index.ts';
import type { Encoder } from './types.ts';
import type { WorkerExit } from './worker-pool.ts';
import type { ModelConfig } from '../config/index.ts';

export type {
  BackendAvailability, Encoder, EncoderScheduler, EncodeResult, EncodeSource, ModelInfo, Pace, Role, PoolingMode,
} from './types.ts';
export { RunScheduler } from './run-scheduler.ts';
export type { WorkerExit } from './worker-pool.ts';
export { EncodeError } from './types.ts';
export { ModelFolderError } from './model-folder.ts';
export { HubUnreachableError, HubDownloadError } from '../model/hub-download.ts';

export interface CreateEncoderOptions {
  /** Where a hub download draws its progress bar (only when it is a TTY). */
  readonly progress?: { write(chunk: string): unknown; readonly isTTY?: boolean };
  /** Relative model paths resolve against this folder (the CLI passes its cwd). */
  readonly cwd?: string;
  readonly signal?: AbortSignal;
  /** Remote backends report outages and recoveries here. */
  readonly logger?: RemoteLogger;
  /** The local backend reports a worker thread that died or overran (it is replaced) here. */
  readonly onWorkerExit?: (e: WorkerExit) => void;
}

/** Builds the configured encoder. Throws with the file and folder named when the model cannot be loaded. */
export async function createEncoder(model: ModelConfig, opts: CreateEncoderOptions = {}): Promise<Encoder> {
  if (model.backend !== 'local') {
    // Remote backends (embedsync, TEI, OpenAI-compatible): see remote/index.ts.
    const { createRemoteEncoder } = await import('./remote/index.ts');
    return createRemoteEncoder(model, {
      ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  }
  const dir = await resolveModelDir(model, opts);
  return createLocalEncoder({
    dir: dir.path,
    name: dir.name,
    dtype: model.dtype,
    sessions: model.sessions,
    threads: model.threads,
    maxBatchTokens: model.maxBatchTokens,
    runSeconds: model.runSeconds,
    interactiveRunSeconds: model.interactiveRunSeconds,
    runTimeoutMs: model.runTimeoutMs,
    ...(opts.onWorkerExit ? { onWorkerExit: opts.onWorkerExit } : {}),
    prompts: { query: model.queryPrompt, document: model.documentPrompt },
    syncShare: model.syncShare,
    ...(model.crashDrillText ? { crashDrillText: model.crashDrillText } : {}),
    ...(model.memoryLimit ? { memory: { limit: model.memoryLimit, auto: model.autoSessions } } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
}

async function resolveModelDir(model: ModelConfig, opts: CreateEncoderOptions): Promise<{ path: string; name: string }> {
  const cwd = opts.cwd ?? '.';
  const local = isAbsolute(model.model) ? model.model : resolve(cwd, model.model);
  const isDir = (p: string) => stat(p).then((s) => s.isDirectory(), () => false);
  if (await isDir(local)) return { path: local, name: model.model };
  const { parseHubId, downloadModel } = await import('../model/hub-download.ts');
  const hub = parseHubId(model.model);
  // `models/mine` has a hub id's shape; it is a path when it says so (./, ../, /, ~) or its first folder is here.
  const pathLike = /^(\.{1,2}\/|\/|~)/.test(model.model) || await isDir(resolve(cwd, model.model.split('/')[0]!));
  if (!hub || pathLike) {
    throw new ModelFolderError(`model folder ${local} does not exist (EMBEDDING_MODEL=${model.model}` +
      `${hub ? '; not taken for a hub id, since it names a local path' : ', and it is not a hub id org/name[@revision] either'})`);
  }
  const path = await downloadModel(hub, {
    endpoint: model.hfEndpoint, token: model.hfToken, cacheDir: model.cacheDir, dtype: model.dtype,
    ...(opts.progress ? { progress: opts.progress } : {}), ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return { path, name: model.model };
}
