// Downloads a model from a Hugging Face–compatible hub (`${endpoint}/{repo}/resolve/{revision}/{file}`) into
// the cache folder. Each file streams into `<file>.part`, resumes with a Range request after a broken
// connection (also across restarts), is size-checked and renamed into place; a `.complete` marker written
// last makes later starts skip the network. The cache never holds a half file under its final name.
// A repo without the ONNX file asked for is imported from its safetensors checkpoint (single file or shards),
// which stays in the cache so that the other dtype imports later without a second download.
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoff } from '../lib/backoff.ts';
import { progressBar, type ProgressOutput } from '../lib/progress-bar.ts';
import { importModel, type ImportOptions, type ImportResult } from './import-checkpoint.ts';
import { SHARD_INDEX, SINGLE_FILE } from './safetensors.ts';
import { shardFiles, ShardIndexError } from './shard-index.ts';
import type { Dtype } from '../config/index.ts';

export interface HubId {
  readonly repo: string;
  readonly revision: string;
}

/** `org/name` or `org/name@revision`; undefined when the text is not a hub id. */
export function parseHubId(text: string): HubId | undefined {
  const m = /^([A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*)(?:@([\w][\w./-]*))?$/.exec(text);
  if (!m || m[1]!.includes('..')) return undefined;
  return { repo: m[1]!, revision: m[2] ?? 'main' };
}

/** The hub could not be reached (network error or 5xx): callers may fall back to a local model. */
export class HubUnreachableError extends Error {
  override name = 'HubUnreachableError';
}

/** The hub answered but the model cannot be had (unknown repo, no access, no usable weights). */
export class HubDownloadError extends Error {
  override name = 'HubDownloadError';
}

export interface DownloadOptions {
  readonly endpoint: string;
  readonly cacheDir: string;
  readonly dtype: Dtype;
  readonly token?: string | undefined;
  /** Progress bar target; drawn only when it is a TTY. */
  readonly progress?: ProgressOutput;
  readonly signal?: AbortSignal;
  /** Attempts per file before giving up (each resumes where the last stopped). */
  readonly attempts?: number;
  readonly retryDelayMs?: number;
  /** A request with no response headers, or a body with no data, for this long is retried (default 20 s). */
  readonly stallTimeoutMs?: number;
  /** How a checkpoint is imported when the repo lacks the ONNX file for `dtype` (graph, int8 kernel, log). */
  readonly importOptions?: Pick<ImportOptions, 'variant' | 'int8Kernel' | 'producerVersion' | 'log'>;
  /** Told what an import wrote into the cache folder. */
  readonly onImport?: (result: ImportResult) => void;
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;
const SENTENCE_TRANSFORMERS_FILES = ['modules.json', 'config_sentence_transformers.json', 'sentence_bert_config.json'] as const;
const ONNX_FILE: Readonly<Record<Dtype, string>> = { fp32: 'onnx/model.onnx', int8: 'onnx/model_quantized.onnx' };

/** Local folder of a hub model in the cache (whether or not it is complete yet). */
export function cachedModelDir(cacheDir: string, hub: HubId): string {
  return join(cacheDir, 'models', hub.repo.replace('/', '--'), hub.revision.replace(/\//g, '--'));
}

/** Downloads what the encoder needs for `dtype` (once; later calls return the cached folder). */
export async function downloadModel(hub: HubId, opts: DownloadOptions): Promise<string> {
  const dir = cachedModelDir(opts.cacheDir, hub);
  const marker = join(dir, `.complete-${opts.dtype}`);
  if (await stat(marker).then(() => true, () => false)) return dir;
  const get = (file: string, required: boolean) => fetchFile(hub, file, join(dir, file), required, opts);

  await get('config.json', true);
  await get('tokenizer.json', true);
  for (const f of [...TOKENIZER_FILES.slice(1), ...SENTENCE_TRANSFORMERS_FILES]) await get(f, false);
  // Pooling (and Normalize) module configs live in folders named by modules.json.
  const modules = await readFile(join(dir, 'modules.json'), 'utf8')
    .then((t) => JSON.parse(t) as { type?: string; path?: string }[], () => []);
  for (const m of modules) if (m.path && m.type?.endsWith('Pooling')) await get(`${m.path}/config.json`, true);
  if (!modules.length) await get('1_Pooling/config.json', false);

  const onnxFile = ONNX_FILE[opts.dtype];
  if (!(await get(onnxFile, false))) {
    const label = `${hub.repo}@${hub.revision}`;
    if (!(await fetchCheckpoint(hub, dir, opts))) throw new HubDownloadError(await noCheckpointMessage(hub, dir, label, opts));
    // Only the missing file is written: an fp32 model already here (imported earlier, or the repo's own)
    // keeps its bytes and so its checksum.
    const result = await importModel(dir, {
      ...opts.importOptions,
      ...(opts.dtype === 'int8' ? { quantize: 'int8' as const, writeFp32: false } : {}),
    });
    opts.onImport?.(result);
  }
  await writeFile(marker, `${new Date().toISOString()}\n`);
  return dir;
}

const CHECKPOINT_NAMES = `a safetensors checkpoint (${SINGLE_FILE} or ${SHARD_INDEX})`;

/**
 * Brings the checkpoint into the cache: model.safetensors, or the shard index and every shard it names.
 * False when the repo has neither.
 */
async function fetchCheckpoint(hub: HubId, dir: string, opts: DownloadOptions): Promise<boolean> {
  const get = (file: string, required: boolean) => fetchFile(hub, file, join(dir, file), required, opts);
  if (await get(SINGLE_FILE, false)) return true;
  if (!(await get(SHARD_INDEX, false))) return false;
  const indexPath = join(dir, SHARD_INDEX);
  let shards: readonly string[];
  try {
    shards = shardFiles(JSON.parse(await readFile(indexPath, 'utf8')), `${hub.repo}/${SHARD_INDEX}`);
  } catch (err) {
    // Not kept: a corrected index on the hub is fetched again on the next start.
    await rm(indexPath, { force: true });
    if (err instanceof ShardIndexError || err instanceof SyntaxError) {
      throw new HubDownloadError(`refusing ${hub.repo}@${hub.revision}: ` +
        `${err instanceof SyntaxError ? `${SHARD_INDEX} is not valid JSON (${err.message})` : err.message}`, { cause: err });
    }
    throw err;
  }
  try {
    for (const shard of shards) await get(shard, true);
  } catch (err) {
    // The index is tiny; fetching it again lets a repo that fixed a missing shard recover. Shard parts stay.
    await rm(indexPath, { force: true });
    throw err;
  }
  return true;
}

/** Says what the repo lacks when it has no checkpoint to import the ONNX file from. */
async function noCheckpointMessage(hub: HubId, dir: string, label: string, opts: DownloadOptions): Promise<string> {
  if (opts.dtype === 'fp32') return `${label} has neither ${ONNX_FILE.fp32} nor ${CHECKPOINT_NAMES} to import it from`;
  const fp32Here = await stat(join(dir, ONNX_FILE.fp32)).then((s) => s.isFile(), () => false);
  if (fp32Here || (await hubHas(hub, ONNX_FILE.fp32, opts))) {
    return `${label} ships ${ONNX_FILE.fp32} (fp32) but neither ${ONNX_FILE.int8} nor ${CHECKPOINT_NAMES} to quantize from; ` +
      'embedsync quantizes checkpoints, not ONNX files: run it with EMBEDDING_DTYPE=fp32';
  }
  return `${label} has neither ${ONNX_FILE.int8}, ${ONNX_FILE.fp32} nor ${CHECKPOINT_NAMES} to import from`;
}

function fileUrl(hub: HubId, file: string, endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/${hub.repo}/resolve/${encodeURIComponent(hub.revision)}/${file}`;
}

function requestHeaders(opts: DownloadOptions): Record<string, string> {
  return { 'user-agent': 'embedsync', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) };
}

/** Whether the hub has `file` (a HEAD request, for error messages only). */
async function hubHas(hub: HubId, file: string, opts: DownloadOptions): Promise<boolean> {
  const url = fileUrl(hub, file, opts.endpoint);
  let res: Response;
  try {
    res = await fetch(url, { method: 'HEAD', headers: requestHeaders(opts), redirect: 'follow', signal: opts.signal ?? null });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw new HubUnreachableError(`cannot reach ${opts.endpoint} for ${hub.repo}/${file}: ${causeText(err)}`, { cause: err });
  }
  if (res.status === 404) return false;
  if (res.ok) return true;
  throw (res.status >= 500 || res.status === 429 ? new HubUnreachableError(`${url} answered ${res.status}`)
    : new HubDownloadError(`${url} answered ${res.status}`));
}

/** Fetches one file into place; false when it does not exist on the hub and is not required. */
async function fetchFile(hub: HubId, file: string, dest: string, required: boolean, opts: DownloadOptions): Promise<boolean> {
  if (await stat(dest).then((s) => s.isFile(), () => false)) return true;
  const url = fileUrl(hub, file, opts.endpoint);
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });
  const attempts = opts.attempts ?? 4;
  const retry = backoff({ baseMs: opts.retryDelayMs ?? 500, maxMs: Infinity });
  let lastError: HubUnreachableError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    // An abort rejects with the signal's reason, as the download itself would.
    if (attempt > 1) await sleep(retry.delayMs(attempt - 2), undefined, { signal: opts.signal }).catch(() => opts.signal?.throwIfAborted());
    const have = await stat(part).then((s) => s.size, () => 0);
    const headers = requestHeaders(opts);
    if (have > 0) headers.range = `bytes=${have}-`;
    // A silent network (no answer, or a body that stops flowing) must not hang start-up: abort and retry.
    const stall = new AbortController();
    const stallMs = opts.stallTimeoutMs ?? 20_000;
    let timer = setTimeout(() => stall.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
    const kick = () => {
      clearTimeout(timer);
      timer = setTimeout(() => stall.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
    };
    const signal = opts.signal ? AbortSignal.any([opts.signal, stall.signal]) : stall.signal;
    let res: Response;
    try {
      res = await fetch(url, { headers, redirect: 'follow', signal });
    } catch (err) {
      clearTimeout(timer);
      if (opts.signal?.aborted) throw err;
      lastError = new HubUnreachableError(`cannot reach ${opts.endpoint} for ${hub.repo}/${file}: ${causeText(err)}`, { cause: err });
      continue;
    }
    if (res.status !== 200 && res.status !== 206) clearTimeout(timer);
    if (res.status === 404 && !required) {
      await res.body?.cancel();
      return false;
    }
    if (res.status === 416) {
      // Our partial file no longer matches what the server has: start over.
      await res.body?.cancel();
      await rm(part, { force: true });
      continue;
    }
    if (res.status >= 500 || res.status === 429) {
      await res.body?.cancel();
      lastError = new HubUnreachableError(`${url} answered ${res.status}`);
      continue;
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      const hint = res.status === 401 || res.status === 403 ? ' (private or gated model: set HF_TOKEN)' : '';
      throw new HubDownloadError(`${url} answered ${res.status}${hint}`);
    }
    const resumed = res.status === 206;
    const length = Number(res.headers.get('content-length') ?? NaN);
    const total = resumed
      ? Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1] ?? NaN)
      : length;
    const start = resumed ? have : 0;
    const bar = progressBar(opts.progress, file, { bytes: true });
    const known = Number.isFinite(total) ? total : undefined;
    let done = start;
    try {
      const body = Readable.fromWeb(res.body! as import('node:stream/web').ReadableStream<Uint8Array>);
      body.on('data', (chunk: Buffer) => { done += chunk.length; kick(); bar.update(done, known); });
      await pipeline(body, createWriteStream(part, { flags: resumed ? 'a' : 'w' }));
      clearTimeout(timer);
    } catch (err) {
      clearTimeout(timer);
      bar.finish();
      if (opts.signal?.aborted) throw err;
      lastError = new HubUnreachableError(`download of ${hub.repo}/${file} broke off at ${done} bytes: ${causeText(err)}`, { cause: err });
      continue;
    }
    bar.finish();
    const size = (await stat(part)).size;
    if (Number.isFinite(total) && size !== total) {
      lastError = new HubUnreachableError(`download of ${hub.repo}/${file} ended at ${size} of ${total} bytes`);
      if (size > total) await rm(part, { force: true });
      continue;
    }
    await rename(part, dest);
    return true;
  }
  throw lastError ?? new HubUnreachableError(`cannot download ${url}`);
}

function causeText(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
