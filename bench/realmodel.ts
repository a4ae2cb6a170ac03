// bench:realmodel — the RoSBERTa-shaped int8 model (random weights) as users run it. Prints figures; does not
// fail on targets.
//  1. Throughput on the same lead texts (Russian and English, 30–200 tokens), each in a process of its own for
//     a clean peak RSS: a bare ONNX Runtime session (pre-tokenized, the encoder's run plan, on the main
//     thread) against the encoder with one session of the same threads; the encoder's default layout
//     (EMBEDDING_SESSIONS × EMBEDDING_THREADS from the cores) and the other layout; the peer a Node user would
//     pick, @huggingface/transformers' feature-extraction pipeline in batches of 32 in arrival order on the
//     same model folder.
//  2. The service: `embedsync run` on a backlog of lead rows in a throwaway Postgres, with an HTTP client
//     sending /embed/batch back to back (the encoder saturated by sync and HTTP together): time to the first
//     vector, leads/s, /health and /metrics latency, a short /embed's latency, SIGTERM time, peak RSS.
//  3. Lanes: `embedsync run` on a backlog of lead rows: backlog leads/s with no live traffic, then with one live
//     insert a second (each live row's write → vector time, p50/p99), with the same phase run by another checkout
//     (--baseline-root, e.g. the previous release) for comparison in the same run.
//   usage: npm run bench:realmodel [-- --layers 24 --texts 96 --rows 3000 --seconds 60 --phases encoder,service,lanes
//          --lanes-seconds 30 --baseline-root ../embedsync-previous --compiled-capture]
//          npm run bench:realmodel -- --service-only --memory-limit 1GiB   (the service as it sizes itself to 1 GiB)
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_RUN_SECONDS, encoderLayout } from '../src/config/index.ts';
import { createPool } from '../src/db/pool.ts';
import { createLocalEncoder } from '../src/encoder/local-encoder.ts';
import { readModelFolder } from '../src/encoder/model-folder.ts';
import { createSession, readOnnx } from '../src/encoder/onnx-session.ts';
import { paddedFeeds } from '../src/encoder/padded-feeds.ts';
import { planBatches } from '../src/encoder/batching.ts';
import { RunSizer } from '../src/encoder/run-sizer.ts';
import { TextTokenizer } from '../src/encoder/text-tokenizer.ts';
import { importModel } from '../src/model/import-checkpoint.ts';
import { mixedTexts } from '../test/support/mixed-texts.ts';
import { writeShapedCheckpoint } from '../test/support/shaped-checkpoint.ts';
import { withBenchDatabase } from './bench-database.ts';
import { freePort } from '../scripts/free-port.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '24' },
    texts: { type: 'string', default: '96' },
    rows: { type: 'string', default: '3000' },
    seconds: { type: 'string', default: '60' },
    child: { type: 'string' },
    model: { type: 'string' },
    'texts-file': { type: 'string' },
    'run-seconds': { type: 'string' },
    phases: { type: 'string', default: 'encoder,service,lanes' },
    'lanes-seconds': { type: 'string', default: '30' },
    // Lanes: the UPDATE trigger calls the compiled function (the extension embedsync_capture; scripts/setup.sh).
    'compiled-capture': { type: 'boolean', default: false },
    'baseline-root': { type: 'string' },
    // The service phase only, told this memory limit (EMBEDSYNC_MEMORY_LIMIT): the sessions it chooses, its peak RSS.
    'memory-limit': { type: 'string' },
    // The service process joins this memory cgroup (v1 or v2 folder, made and limited by the caller) before it
    // starts, so the kernel enforces the limit and the service reads it as a container's.
    cgroup: { type: 'string' },
    'service-only': { type: 'boolean', default: false },
  },
});
const CORES = availableParallelism();
// EMBEDDING_RUN_SECONDS for the encoder phases and the service (the product's default unless given).
const RUN_SECONDS = values['run-seconds'] ? Number(values['run-seconds']) : DEFAULT_RUN_SECONDS;

type Kind = 'bare' | 'encoder' | 'transformers';
interface Spec { readonly kind: Kind; readonly sessions: number; readonly threads: number; readonly runSeconds?: number }
interface Result { readonly seconds: number; readonly tokens: number; readonly texts: number; readonly rssMb: number }

function peakRss(): () => number {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
  t.unref();
  return () => { clearInterval(t); return Math.max(peak, process.memoryUsage().rss) / 1e6; };
}

/** One measurement in this process (the parent starts one process per spec). */
async function child(spec: Spec, dir: string, textsFile: string): Promise<Result> {
  const texts = JSON.parse(readFileSync(textsFile, 'utf8')) as string[];
  const folder = await readModelFolder(dir, 'int8');
  const prompt = folder.prompts.document;
  if (spec.kind === 'encoder') {
    // No tokenizer on this thread, as in the service (the workers count the tokens): its memory would be the bench's.
    const rss = peakRss();
    const enc = await createLocalEncoder({
      dir, dtype: 'int8', sessions: spec.sessions, threads: spec.threads, maxBatchTokens: 8192, runSeconds: spec.runSeconds ?? RUN_SECONDS,
    });
    await enc.encode(texts.slice(0, 8), 'document'); // the pace has its first measurements, as in a running daemon
    const t = performance.now();
    const { tokens } = await enc.encode(texts, 'document');
    const seconds = (performance.now() - t) / 1000;
    await enc.close();
    return { seconds, tokens, texts: texts.length, rssMb: rss() };
  }
  const tok = TextTokenizer.of(folder);
  const tokens = texts.reduce((s, t) => s + tok.encode(prompt, t).ids.length, 0);
  const rss = peakRss();
  if (spec.kind === 'bare') {
    const session = await createSession(await readOnnx(join(dir, folder.onnxFile)), spec.threads);
    const ids = texts.map((t) => tok.encode(prompt, t).ids);
    const feeds = (rows: readonly (readonly number[])[]) => paddedFeeds(rows, tok.padId, session.inputNames.includes('token_type_ids'));
    await session.run(feeds(ids.slice(0, 8)));
    // The encoder's own plan: runs of about RUN_SECONDS at the speed this session shows on a first batch.
    const sizer = new RunSizer(RUN_SECONDS, 8192, folder.maxTokens, 1);
    const probe = performance.now();
    await session.run(feeds(ids.slice(8, 16)));
    const padded = 8 * Math.max(...ids.slice(8, 16).map((r) => r.length));
    sizer.observe({ paddedTokens: padded, tokens: padded, bytes: 0, seconds: (performance.now() - probe) / 1000 });
    const runs = planBatches(ids.map((r) => r.length), sizer.budget()).map((g) => feeds(g.map((i) => ids[i]!)));
    const t = performance.now();
    for (const f of runs) await session.run(f);
    const seconds = (performance.now() - t) / 1000;
    return { seconds, tokens, texts: texts.length, rssMb: rss() };
  }
  // The transformers.js pipeline reads `<localModelPath>/<name>/onnx/model_quantized.onnx`, as from the hub.
  const { env, pipeline } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = `${dirname(dir)}/`;
  const extractor = await pipeline('feature-extraction', basename(dir), {
    dtype: 'q8', use_external_data_format: existsSync(join(dir, 'onnx/model_quantized.onnx_data')),
    session_options: { intraOpNumThreads: spec.threads, interOpNumThreads: 1 },
  });
  const withPrompt = texts.map((t) => prompt + t);
  await extractor(withPrompt.slice(0, 8), { pooling: 'cls', normalize: true });
  const t = performance.now();
  for (let i = 0; i < withPrompt.length; i += 32) await extractor(withPrompt.slice(i, i + 32), { pooling: 'cls', normalize: true });
  const seconds = (performance.now() - t) / 1000;
  return { seconds, tokens, texts: texts.length, rssMb: rss() };
}

function runChild(spec: Spec, dir: string, textsFile: string): Result {
  const out = execFileSync(process.execPath, [
    '--import', 'tsx', SELF, '--child', JSON.stringify(spec), '--model', dir, '--texts-file', textsFile,
    '--run-seconds', String(RUN_SECONDS),
  ], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Result;
}

async function ensureModel(layers: number, log: (s: string) => void): Promise<string> {
  const dir = resolve(ROOT, layers === 24 ? 'models/rosberta-shape' : `models/rosberta-shape-${layers}`);
  if (!existsSync(join(dir, 'onnx/model_quantized.onnx'))) {
    if (!existsSync(join(dir, 'model.safetensors'))) {
      log(`generating the RoSBERTa-shaped checkpoint (${layers} layers) in ${dir} …`);
      writeShapedCheckpoint(dir, { layers });
    }
    log('importing it with int8 …');
    await importModel(dir, { quantize: 'int8' });
  }
  return dir;
}


const pct = (xs: readonly number[], p: number) =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]! : NaN;
const ms = (x: number) => `${x.toFixed(0)} ms`;

async function timed(url: string, init?: RequestInit): Promise<number> {
  const t = performance.now();
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  await r.arrayBuffer();
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return performance.now() - t;
}

function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1000;
  } catch {
    return 0;
  }
}

/** The service phase: `embedsync run` on a backlog, with HTTP load beside it. */
async function service(dir: string, texts: readonly string[], rows: number, seconds: number, log: (s: string) => void): Promise<void> {
  await withBenchDatabase(async (url) => {
    // The database is dropped WITH (FORCE) after the figures: createPool's clients survive the connections it ends.
    const pool = createPool({ databaseUrl: url, max: 2, applicationName: 'bench-realmodel' });
    await pool.query('CREATE TABLE leads (id bigserial PRIMARY KEY, title text, description text)');
    await pool.query('INSERT INTO leads (title, description) ' +
      `SELECT 'Lead ' || g, (($1::text[]))[1 + (g - 1) % array_length($1::text[], 1)] FROM generate_series(1, $2::int) g`, [texts, rows]);
    const port = await freePort();
    const env = {
      ...process.env, DATABASE_URL: url, EMBEDDING_MODEL: dir, EMBEDDING_DTYPE: 'int8', PORT: String(port), HOST: '127.0.0.1',
      EMBEDDING_RUN_SECONDS: String(RUN_SECONDS), EMBEDSYNC_TEXT_COLUMNS: 'title,description', LOG_LEVEL: 'info',
      ...(values['memory-limit'] ? { EMBEDSYNC_MEMORY_LIMIT: values['memory-limit'] } : {}), RATE_LIMIT: '1000000/minute',
      RATE_LIMIT_BATCH: '1000000/minute', CACHE_ENABLED: 'false',
    };
    execFileSync(process.execPath, [join(ROOT, 'bin/embedsync.js'), 'migrate'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    const started = performance.now();
    const args = [join(ROOT, 'bin/embedsync.js'), 'run'];
    const run = values.cgroup
      ? spawn('sh', ['-c', 'echo $$ > "$CGROUP/cgroup.procs" && exec "$0" "$@"', process.execPath, ...args],
        { env: { ...env, CGROUP: values.cgroup }, stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(run, 'exit');
    // The encoder's choice of sessions and its memory estimate (logged once at start).
    let choice: { sessions?: number; threads?: number; estimate_mib?: number; limit_mib?: number; limit_source?: string } = {};
    let pending = '';
    run.stdout.on('data', (b: Buffer) => {
      const lines = (pending + b.toString()).split('\n');
      pending = lines.pop()!;
      for (const l of lines) if (l.includes('"encoder_memory"')) choice = JSON.parse(l) as typeof choice;
    });
    let peak = 0;
    const rssTimer = setInterval(() => { peak = Math.max(peak, rssOf(run.pid!)); }, 250);
    const embedded = async () => (await pool.query<{ n: number }>('SELECT count(embedding)::int AS n FROM leads')).rows[0]!.n;
    while ((await embedded()) === 0) await new Promise((r) => setTimeout(r, 50));
    const firstVector = (performance.now() - started) / 1000;
    const base = `http://127.0.0.1:${port}`;
    const windowStart = performance.now();
    const startCount = await embedded();
    const stopAt = windowStart + seconds * 1000;
    const health: number[] = [];
    const query: number[] = [];
    let batches = 0;
    const until = async (fn: () => Promise<void>) => { while (performance.now() < stopAt) await fn(); };
    // A failed request ends the bench, and the service with it (it would hold the output pipe open).
    const killRun = () => { if (run.exitCode === null && run.signalCode === null) run.kill('SIGKILL'); };
    await Promise.all([
      until(async () => {
        health.push(await timed(`${base}/health`));
        health.push(await timed(`${base}/metrics`));
        await new Promise((r) => setTimeout(r, 100));
      }),
      until(async () => {
        query.push(await timed(`${base}/embed`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: `квартира у метро ${query.length}` }),
        }));
        await new Promise((r) => setTimeout(r, 500));
      }),
      until(async () => {
        const items = texts.slice((batches * 16) % (texts.length - 16), (batches * 16) % (texts.length - 16) + 16)
          .map((text, i) => ({ id: String(i), text: `${text} ${batches}` }));
        await timed(`${base}/embed/batch`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items, role: 'document' }),
        });
        batches += 1;
      }),
    ]).catch((err: unknown) => { killRun(); throw err; });
    const leadsPerS = ((await embedded()) - startCount) / ((performance.now() - windowStart) / 1000);
    const term = performance.now();
    run.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    const termMs = performance.now() - term;
    clearInterval(rssTimer);
    const leased = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM embedsync.queue WHERE lease_owner IS NOT NULL'))
      .rows[0]!.n;
    await pool.end();
    if (values.cgroup) {
      const read = (f: string) => { try { return readFileSync(join(values.cgroup!, f), 'utf8').trim(); } catch { return undefined; } };
      const limit = read('memory.max') ?? read('memory.limit_in_bytes');
      const high = read('memory.peak') ?? read('memory.max_usage_in_bytes');
      const events = read('memory.events') ?? `failcnt ${read('memory.failcnt')}`;
      log(`cgroup ${values.cgroup}: limit ${limit}, peak usage ${high} bytes (page cache included), ` +
        `${events.replace(/\n/g, ', ')}; exit ${code ?? signal}`);
    }
    log(`service (embedsync run, ${choice.sessions} sessions × ${choice.threads} threads, ${rows} backlog rows, ` +
      `${seconds} s with /embed/batch of 16 back to back):`);
    log(`  memory: limit ${choice.limit_mib} MiB (${choice.limit_source}), expected peak ~${choice.estimate_mib} MiB`);
    log(`  first vector ${firstVector.toFixed(1)} s after start (model load included); ` +
      `sync ${leadsPerS.toFixed(1)} leads/s beside ${(batches * 16 / seconds).toFixed(1)} HTTP texts/s`);
    log(`  /health + /metrics: p50 ${ms(pct(health, 0.5))}, p99 ${ms(pct(health, 0.99))}, max ${ms(Math.max(...health))} ` +
      `(${health.length} probes)`);
    log(`  short /embed: p50 ${ms(pct(query, 0.5))}, p99 ${ms(pct(query, 0.99))}, max ${ms(Math.max(...query))} (${query.length} queries)`);
    log(`  SIGTERM → exit ${code} in ${ms(termMs)}; rows left leased: ${leased}; peak RSS ${peak.toFixed(0)} MB`);
  });
}

/**
 * The lanes phase: `embedsync run` (from checkout `root`) on a backlog; backlog leads/s alone, then beside one live
 * insert and one live edit a second, and how long each live row took from its INSERT (or UPDATE) to its vector.
 */
async function lanes(root: string, dir: string, texts: readonly string[], rows: number, seconds: number,
  log: (s: string) => void): Promise<void> {
  await withBenchDatabase(async (url) => {
    // The database is dropped WITH (FORCE) after the figures: createPool's clients survive the connections it ends.
    const pool = createPool({ databaseUrl: url, max: 4, applicationName: 'bench-realmodel' });
    await pool.query('CREATE TABLE leads (id bigserial PRIMARY KEY, title text, description text)');
    await pool.query('INSERT INTO leads (title, description) ' +
      `SELECT 'Lead ' || g, (($1::text[]))[1 + (g - 1) % array_length($1::text[], 1)] FROM generate_series(1, $2::int) g`, [texts, rows]);
    const env = {
      ...process.env, DATABASE_URL: url, EMBEDDING_MODEL: dir, EMBEDDING_DTYPE: 'int8', PORT: String(await freePort()), HOST: '127.0.0.1',
      EMBEDDING_RUN_SECONDS: String(RUN_SECONDS), EMBEDSYNC_TEXT_COLUMNS: 'title,description', LOG_LEVEL: 'warn',
    };
    const migrate = () => execFileSync(process.execPath, [join(root, 'bin/embedsync.js'), 'migrate'],
      { env, stdio: ['ignore', 'ignore', 'inherit'], cwd: root });
    migrate();
    if (values['compiled-capture']) {
      await pool.query('CREATE EXTENSION embedsync_capture');
      migrate();
    }
    const run = spawn(process.execPath, [join(root, 'bin/embedsync.js'), 'run'],
      { env, stdio: ['ignore', 'ignore', 'inherit'], cwd: root });
    const exited = once(run, 'exit');
    const embedded = async () => (await pool.query<{ n: number }>('SELECT count(embedding)::int AS n FROM leads')).rows[0]!.n;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    while ((await embedded()) === 0) await sleep(100);
    await sleep(5000); // past the first claims, at the learned pace
    const rate = async (ms: number, during?: () => Promise<void>) => {
      const [n0, t0] = [await embedded(), performance.now()];
      await Promise.all([sleep(ms), during?.()]);
      return { rows: (await embedded()) - n0, seconds: (performance.now() - t0) / 1000 };
    };
    const alone = await rate(seconds * 1000);
    const latencies: number[] = [];
    const edits: number[] = [];
    let missed = 0;
    // Polls `done` until it holds (its time since t0 into `into`), or counts a miss after the window and 20 s.
    const until = async (t0: number, into: number[], done: () => Promise<boolean>) => {
      const end = t0 + seconds * 1000 + 20_000;
      while (performance.now() < end) {
        if (await done()) {
          into.push(performance.now() - t0);
          return;
        }
        await sleep(20);
      }
      missed += 1;
    };
    // Each second one new lead, and one edit of the text of a lead already embedded (the trigger's change log).
    const live = async () => {
      const waits: Promise<void>[] = [];
      for (let i = 0; i < seconds; i++) {
        const { rows: [row] } = await pool.query<{ id: string }>(`INSERT INTO leads (title, description) VALUES ($1, $2) RETURNING id`,
          [`Новый лид ${i}`, texts[i % texts.length]]);
        const t = performance.now();
        waits.push(until(t, latencies, async () =>
          (await pool.query('SELECT 1 FROM leads WHERE id = $1 AND embedding IS NOT NULL', [row!.id])).rowCount === 1));
        const { rows: [edited] } = await pool.query<{ id: string; at: Date }>(
          `UPDATE leads SET title = $1 WHERE id = (SELECT id FROM leads WHERE embedding IS NOT NULL AND title LIKE 'Lead %' LIMIT 1)
           RETURNING id, now() AS at`, [`Изменённый лид ${i}`]);
        const te = performance.now();
        if (edited) {
          waits.push(until(te, edits, async () =>
            (await pool.query('SELECT 1 FROM leads WHERE id = $1 AND embedded_at >= $2', [edited.id, edited.at])).rowCount === 1));
        }
        await sleep(1000);
      }
      await Promise.all(waits);
    };
    const beside = await rate(seconds * 1000, live);
    run.kill('SIGTERM');
    await exited;
    await pool.end();
    const backlogRate = (r: { rows: number; seconds: number }, minus = 0) => ((r.rows - minus) / r.seconds).toFixed(1);
    log(`lanes (${root === ROOT ? 'this checkout' : root}, embedsync run, ${rows} backlog rows, windows of ${seconds} s` +
      `${values['compiled-capture'] ? ', the compiled UPDATE function' : ''}):`);
    log(`  backlog alone: ${backlogRate(alone)} leads/s; ` +
      `beside one live insert and one live edit a second: ${backlogRate(beside, latencies.length)} leads/s`);
    const line = (what: string, xs: readonly number[]) => xs.length
      ? `  ${what} → vector: p50 ${ms(pct(xs, 0.5))}, p99 ${ms(pct(xs, 0.99))}, max ${ms(Math.max(...xs))} (${xs.length} rows)`
      : `  ${what} → vector: none`;
    log(line('live insert', latencies));
    log(line('live edit', edits));
    if (missed) log(`  ${missed} live rows without their vector ${seconds + 20} s after the window began`);
  });
}

async function main(): Promise<void> {
  if (values.child) {
    const r = await child(JSON.parse(values.child) as Spec, values.model!, values['texts-file']!);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const log = (s: string) => process.stdout.write(`${s}\n`);
  const phases = new Set(values.phases.split(','));
  const dir = await ensureModel(Number(values.layers), log);
  const folder = await readModelFolder(dir, 'int8');
  const tok = TextTokenizer.of(folder);
  const count = (t: string) => tok.encode(folder.prompts.document, t).ids.length;
  const texts = mixedTexts({ count: Number(values.texts), minTokens: 30, maxTokens: 200, tokens: count, seed: 21 });
  const textsFile = join(mkdtempSync(join(tmpdir(), 'embedsync-bench-')), 'texts.json');
  writeFileSync(textsFile, JSON.stringify(texts));
  if (values['service-only']) {
    log(`bench:realmodel (service only) — ${basename(dir)} (${values.layers} layers, int8), ${CORES} cores, runs of ~${RUN_SECONDS} s`);
    await service(dir, texts, Number(values.rows), Number(values.seconds), log);
    return;
  }
  const layout = encoderLayout(CORES);
  log(`bench:realmodel — ${basename(dir)} (${values.layers} layers, hidden 1024, int8), ${texts.length} texts of 30–200 tokens, ` +
    `${CORES} cores, runs of ~${RUN_SECONDS} s`);
  if (phases.has('lanes')) {
    const lanesSeconds = Number(values['lanes-seconds']);
    if (values['baseline-root']) await lanes(resolve(values['baseline-root']), dir, texts, Number(values.rows), lanesSeconds, log);
    await lanes(ROOT, dir, texts, Number(values.rows), lanesSeconds, log);
  }
  if (phases.has('service')) await service(dir, texts, Number(values.rows), Number(values.seconds), log);
  if (!phases.has('encoder')) return;
  const other = layout.sessions > 1 ? { sessions: 1, threads: CORES } : { sessions: CORES, threads: 1 };
  const line = (label: string, r: Result, ref?: Result) => log(`  ${label.padEnd(52)} ` +
    `${(r.tokens / r.seconds).toFixed(0).padStart(6)} tokens/s ` +
    `${(r.texts / r.seconds).toFixed(1).padStart(6)} leads/s  peak RSS ${r.rssMb.toFixed(0).padStart(5)} MB` +
    (ref ? `  ${((r.tokens / r.seconds) / (ref.tokens / ref.seconds) * 100).toFixed(0)}% of ${ref === bare ? 'bare' : 'the default'}`
      : ''));
  const bare = runChild({ kind: 'bare', sessions: 1, threads: CORES }, dir, textsFile);
  const enc1 = runChild({ kind: 'encoder', sessions: 1, threads: CORES }, dir, textsFile);
  const encDefault = runChild({ kind: 'encoder', ...layout }, dir, textsFile);
  // On few cores the other layout is the one-session line already measured.
  const encOther = other.sessions === 1 ? undefined : runChild({ kind: 'encoder', ...other }, dir, textsFile);
  // Runs half as long again: ONNX Runtime's arena grows to a session's largest run, so memory follows run length.
  const longer = RUN_SECONDS * 1.5;
  const encLonger = runChild({ kind: 'encoder', ...layout, runSeconds: longer }, dir, textsFile);
  const tjs = runChild({ kind: 'transformers', sessions: 1, threads: CORES }, dir, textsFile);
  line(`bare session, ${CORES} threads (pre-tokenized)`, bare);
  line(`encoder, 1 session × ${CORES} threads`, enc1, bare);
  line(`encoder default, ${layout.sessions} sessions × ${layout.threads} threads`, encDefault, bare);
  if (encOther) line(`encoder, ${other.sessions} sessions × ${other.threads} threads`, encOther, bare);
  line(`encoder default, runs of ~${longer} s instead of ~${RUN_SECONDS} s`, encLonger, encDefault);
  line(`transformers.js pipeline, batches of 32, ${CORES} threads`, tjs, bare);
  log(`  encoder default vs transformers.js: ${((encDefault.tokens / encDefault.seconds) / (tjs.tokens / tjs.seconds)).toFixed(2)}x`);
}

await main();
