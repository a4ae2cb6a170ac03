// Downloads a model from a Hugging Face–compatible hub (`${endpoint}/{repo}/resolve/{revision}/{file}`) into
// the cache folder. Each file streams into `<file>.part`, resumes with a Range request after a broken
// connection (also across restarts), is size-checked and renamed into place; a `.complete` marker written
// last makes later starts skip the network. The cache never holds a half file under its final name.
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { importCheckpoint } from './import-checkpoint.ts';
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
  readonly progress?: { write(chunk: string): unknown; readonly isTTY?: boolean };
  readonly signal?: AbortSignal;
  /** Attempts per file before giving up (each resumes where the last stopped). */
  readonly attempts?: number;
  readonly retryDelayMs?: number;
  /** A request with no response headers, or a body with no data, for this long is retried (default 20 s). */
  readonly stallTimeoutMs?: number;
  /** Runs when the repo has weights but no ONNX file (default: convert a single model.safetensors). */
  readonly importCheckpoint?: (dir: string) => Promise<unknown>;
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
  const modules = await readFile(join(dir, 'modules.json'), 'utf8').then((t) => JSON.parse(t) as { type?: string; path?: string }[], () => []);
  for (const m of modules) if (m.path && m.type?.endsWith('Pooling')) await get(`${m.path}/config.json`, true);
  if (!modules.length) await get('1_Pooling/config.json', false);

  const onnxFile = ONNX_FILE[opts.dtype];
  if (!(await get(onnxFile, false))) {
    if (opts.dtype === 'int8') {
      throw new HubDownloadError(`${hub.repo}@${hub.revision} has no ${onnxFile}; import it with embedsync model import ${hub.repo} --quantize int8`);
    }
    if (!(await get('model.safetensors', false))) {
      throw new HubDownloadError(`${hub.repo}@${hub.revision} has neither ${onnxFile} nor a single model.safetensors (sharded checkpoints: embedsync model import)`);
    }
    await (opts.importCheckpoint ?? importCheckpoint)(dir);
  }
  await writeFile(marker, `${new Date().toISOString()}\n`);
  return dir;
}

function progressBar(out: DownloadOptions['progress'], label: string, total: number | undefined) {
  if (!out?.isTTY) return { update: (_done: number) => {}, end: (_done: number) => {} };
  let last = 0;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const draw = (done: number) => {
    const pct = total ? Math.floor((done / total) * 100) : 0;
    const bar = total ? `[${'#'.repeat(Math.floor(pct / 5)).padEnd(20)}] ${String(pct).padStart(3)}% ` : '';
    out.write(`\r${label} ${bar}${mb(done)}${total ? `/${mb(total)}` : ''} MB`);
  };
  return {
    update(done: number) {
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        draw(done);
      }
    },
    end(done: number) {
      draw(done);
      out.write('\n');
    },
  };
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((res, rej) => {
  const t = setTimeout(res, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); rej(signal.reason); }, { once: true });
});

/** Fetches one file into place; false when it does not exist on the hub and is not required. */
async function fetchFile(hub: HubId, file: string, dest: string, required: boolean, opts: DownloadOptions): Promise<boolean> {
  if (await stat(dest).then((s) => s.isFile(), () => false)) return true;
  const url = `${opts.endpoint.replace(/\/+$/, '')}/${hub.repo}/resolve/${encodeURIComponent(hub.revision)}/${file}`;
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });
  const attempts = opts.attempts ?? 4;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await sleep((opts.retryDelayMs ?? 500) * 2 ** (attempt - 2), opts.signal);
    const have = await stat(part).then((s) => s.size, () => 0);
    const headers: Record<string, string> = { 'user-agent': 'embedsync' };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
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
    const bar = progressBar(opts.progress, file, Number.isFinite(total) ? total : undefined);
    let done = start;
    try {
      const body = Readable.fromWeb(res.body! as import('node:stream/web').ReadableStream<Uint8Array>);
      body.on('data', (chunk: Buffer) => { done += chunk.length; kick(); bar.update(done); });
      await pipeline(body, createWriteStream(part, { flags: resumed ? 'a' : 'w' }));
      clearTimeout(timer);
    } catch (err) {
      clearTimeout(timer);
      bar.end(done);
      if (opts.signal?.aborted) throw err;
      lastError = new HubUnreachableError(`download of ${hub.repo}/${file} broke off at ${done} bytes: ${causeText(err)}`, { cause: err });
      continue;
    }
    bar.end(done);
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
