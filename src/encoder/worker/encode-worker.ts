// One encoder worker thread: owns an ONNX Runtime session and the tokenizer, and turns texts into normalized
// vectors. ONNX Runtime's Node binding runs a model synchronously on the calling thread; here that thread is
// this worker's, so the main thread's event loop (database, HTTP, LISTEN, timers) never waits for a run.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { planBatches } from '../batching.ts';
import { createSession, filesFingerprint } from '../onnx-session.ts';
import { paddedFeeds } from '../padded-feeds.ts';
import { l2Normalize, pool } from '../pooling.ts';
import { TextTokenizer, type Tokenized } from '../text-tokenizer.ts';
import type { CrashRequest, StopRequest, RunDone, RunFailed, RunRequest, WorkerInit, WorkerMessage } from './protocol.ts';

const port = parentPort!;

// The model's threads run below the main thread's CPU priority (Linux: a thread's nice value, inherited by the
// threads ONNX Runtime creates from it), so on a saturated machine the I/O thread — health checks, queries,
// lease renewals — and Postgres still get the cores when they need them. Best effort: elsewhere nothing changes.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + 10));
} catch { /* not Linux, or not allowed */ }
const init = workerData as WorkerInit;
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

async function start(): Promise<void> {
  let session: ort.InferenceSession;
  let tokenizer: TextTokenizer;
  try {
    tokenizer = TextTokenizer.of(init.folder);
  } catch (err) {
    post({ type: 'fatal', message: (err as Error).message, stage: 'tokenizer' });
    return;
  }
  try {
    if (init.files && init.fingerprint && await filesFingerprint(init.files) !== init.fingerprint) {
      throw new Error(`${init.onnxPath} changed on disk since the encoder started; restart embedsync to load the new model`);
    }
    // Loaded by path: the pool hashes the same files meanwhile on the main thread and checks they did not change.
    session = await createSession({ source: init.onnxPath }, init.threads);
  } catch (err) {
    post({ type: 'fatal', message: (err as Error).message, stage: 'model' });
    return;
  }
  const withTokenTypes = session.inputNames.includes('token_type_ids');
  const outputName = ['last_hidden_state', 'token_embeddings'].find((n) => session.outputNames.includes(n)) ?? session.outputNames[0]!;

  const runOne = async (req: RunRequest): Promise<RunDone | RunFailed> => {
    const started = performance.now();
    if (init.crashDrillText && req.texts.some((t) => t.includes(init.crashDrillText!))) crashDrill();
    const tokenized: Tokenized[] = [];
    let bytes = 0;
    for (let i = 0; i < req.texts.length; i++) {
      const text = req.texts[i]!;
      bytes += Buffer.byteLength(text);
      try {
        tokenized.push(tokenizer.encode(req.prompt, text, req.truncate));
      } catch (err) {
        return {
          type: 'failed', id: req.id, reason: 'input', index: i, message: `input ${i} cannot be tokenized: ${(err as Error).message}`,
        };
      }
    }
    let out: Float32Array | undefined;
    let dims = 0;
    let tokens = 0;
    let padded = 0;
    for (const batch of planBatches(tokenized.map((t) => t.ids.length), req.maxBatchTokens)) {
      const rows = batch.map((i) => tokenized[i]!.ids);
      const feeds = paddedFeeds(rows, tokenizer.padId, withTokenTypes);
      let output: ort.Tensor;
      try {
        output = (await session.run(feeds))[outputName]!;
      } catch (err) {
        return { type: 'failed', id: req.id, reason: 'internal', message: `model run failed: ${(err as Error).message}` };
      }
      const data = output.data as Float32Array;
      const H = output.dims.at(-1)!;
      const width = feeds.input_ids!.dims[1]!;
      if (!out) {
        dims = H;
        out = new Float32Array(req.texts.length * H);
      }
      batch.forEach((inputIndex, r) => {
        const v = output.dims.length === 2
          ? data.slice(r * H, (r + 1) * H) // the graph already pools (sentence_embedding)
          : pool(init.folder.pooling, data.subarray(r * width * H, (r + 1) * width * H), H, rows[r]!.length, req.poolStart);
        out!.set(l2Normalize(v), inputIndex * H);
      });
      for (const row of rows) tokens += row.length;
      padded += rows.length * width;
    }
    const vectors = (out ?? new Float32Array(0)).buffer as ArrayBuffer;
    return {
      type: 'done', id: req.id, vectors, dims, tokens, paddedTokens: padded, bytes,
      truncated: tokenized.filter((t) => t.truncated).length, seconds: (performance.now() - started) / 1000,
    };
  };

  // A first run pays one-off costs (kernel selection, arena growth) before any caller waits on this worker.
  const warmUp = await runOne({ id: 0, texts: [''], prompt: '', poolStart: 0, maxBatchTokens: tokenizer.maxTokens, truncate: 'right' });
  if (warmUp.type === 'failed') {
    post({ type: 'fatal', message: warmUp.message, stage: 'model' });
    return;
  }
  const promptTokens = {
    query: tokenizer.promptLength(init.folder.prompts.query), document: tokenizer.promptLength(init.folder.prompts.document),
  };
  post({ type: 'ready', promptTokens });

  // The pool sends one run at a time per worker; a run that throws outside the model is reported, not fatal.
  port.on('message', (req: RunRequest | CrashRequest | StopRequest) => {
    if ('type' in req && req.type === 'stop') {
      // The session goes first, on this thread, so nothing of ONNX Runtime is left to finalize at teardown.
      void session.release().catch(() => undefined).then(() => port.close());
      return;
    }
    if ('type' in req) {
      setImmediate(() => { throw new Error('worker crash requested'); });
      return;
    }
    runOne(req).then(
      (r) => post(r, r.type === 'done' ? [r.vectors] : []),
      (err: unknown) => post({ type: 'failed', id: req.id, reason: 'internal', message: (err as Error).message }),
    );
  });
}

/**
 * Ends the whole process at once, as a native crash inside ONNX Runtime or the tokenizer (or the kernel's
 * out-of-memory killer) would: no handler runs, nothing is released. Crash drills only; the one place outside
 * src/main.ts that touches `process`, because a crash of this thread is what it stands for.
 */
function crashDrill(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

void start();
