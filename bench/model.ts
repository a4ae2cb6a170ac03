// bench:model — the RoSBERTa-shaped model (24 layers, hidden 1024; random weights) through the local encoder:
// plain-op fp32 graph vs fused contrib-op fp32 graph vs int8, at 1 and 2 threads; achieved GFLOP/s against
// the fp32 MatMul peak measured with one large MatMul in ONNX Runtime in the same run; peak RSS per variant;
// the int8 quality gate (cosine fp32 vs int8 over 500 mixed Russian/English texts). Prints figures and
// ratios; it does not fail on targets.
//
// The machine may be shared, so speed is measured interleaved: one process per thread count holds every
// variant, and each batch runs through all of them in rotating order, with the MatMul peak sampled between
// batches. Load from elsewhere then slows every variant alike and the ratios stay fair. Peak RSS needs a
// process per variant (its own short run).
//
// Also measured, to show what graph fusion is worth on CPU: the plain graph with ONNX Runtime's graph
// optimizations off (a bare session on the same padded batches, so without tokenizing), and the int8 kernel
// against the fp32 one on the same MatMul — the most int8 can gain on this CPU.
//   usage: npm run bench:model   (BENCH_TEXTS=500 speed texts, BENCH_GATE_TEXTS=500 gate texts,
//   BENCH_THREADS=1,2; on 2 cores the defaults take about 50 minutes, BENCH_TEXTS=200 about 20)
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { paddedFeeds } from '../src/encoder/padded-feeds.ts';
import { planBatches } from '../src/encoder/batching.ts';
import { createLocalEncoder } from '../src/encoder/local-encoder.ts';
import { readModelFolder } from '../src/encoder/model-folder.ts';
import { TextTokenizer } from '../src/encoder/text-tokenizer.ts';
import type { Encoder } from '../src/encoder/types.ts';
import { parseEncoderConfig, type EncoderConfig } from '../src/model/checkpoint.ts';
import { GraphBuilder } from '../src/model/graph-builder.ts';
import { importModel } from '../src/model/import-checkpoint.ts';
import { mixedTexts } from '../test/support/mixed-texts.ts';
import { quantizeColumns } from '../src/model/quantize-int8.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL_DIR = resolve(ROOT, 'models/rosberta-shape');
const PLAIN_DIR = resolve(ROOT, 'models/rosberta-shape-plain');
const SELF = fileURLToPath(import.meta.url);
const BUDGET = 8192;

const ENCODERS = [
  { name: 'plain fp32', dir: PLAIN_DIR, dtype: 'fp32' },
  { name: 'fused fp32', dir: MODEL_DIR, dtype: 'fp32' },
  { name: 'int8', dir: MODEL_DIR, dtype: 'int8' },
] as const;
const UNFUSED = 'plain fp32, ORT fusions off';

interface SpeedSpec { readonly kind: 'speed'; readonly threads: number; readonly textsFile: string }
interface RssSpec { readonly kind: 'rss'; readonly dir: string; readonly dtype: 'fp32' | 'int8'; readonly textsFile: string }
interface GateSpec { readonly kind: 'gate'; readonly dir: string; readonly threads: number; readonly textsFile: string }
type Spec = SpeedSpec | RssSpec | GateSpec;

interface Timing { seconds: number; tokens: number; rows: number }
interface SpeedResult {
  readonly timings: Record<string, Timing>; readonly peak: number; readonly int8Peak: number; readonly batches: number;
  readonly padded: number;
}

const maxRssMb = () => process.resourceUsage().maxRSS / 1024;
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sessionOptions = (threads: number, level: 'all' | 'disabled' = 'all'): ort.InferenceSession.SessionOptions => ({
  intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: level,
  extra: { session: { intra_op: { allow_spinning: '0' } } },
});

/** One MatMul [M, K] × [K, N] with the FFN's shape and a daemon-sized batch: fp32 and the int8 kernel the quantized graph uses. */
async function peakSessions(threads: number): Promise<{ fp32: () => Promise<number>; int8: () => Promise<number> }> {
  const M = 1024, K = 1024, N = 4096;
  const w = Float32Array.from({ length: K * N }, (_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
  const { q, scale } = quantizeColumns(w, K, N, 63);
  const feeds = { a: new ort.Tensor('float32', Float32Array.from({ length: M * K }, (_, i) => ((i * 40503) % 997) / 997 - 0.5), [M, K]) };
  const make = async (build: (g: GraphBuilder, a: string) => string) => {
    const g = new GraphBuilder('matmul_peak');
    const a = g.input('a', 'float', [M, K]);
    g.output(g.identity(build(g, a), 'y'), 'float', [M, N]);
    const session = await ort.InferenceSession.create(
      g.encode({ producerName: 'bench', producerVersion: '0', opsets: { '': 17, 'com.microsoft': 1 } }), sessionOptions(threads));
    await session.run(feeds);
    return async () => {
      const t0 = performance.now();
      await session.run(feeds);
      return (2 * M * K * N) / ((performance.now() - t0) / 1000) / 1e9;
    };
  };
  return {
    fp32: await make((g, a) => g.node('MatMul', [a, g.floatTensor('b', [K, N], w)])),
    int8: await make((g, a) => g.nodeN('DynamicQuantizeMatMul',
      [a, g.initializer('bq', 'int8', [K, N], new Uint8Array(q.buffer, q.byteOffset, q.byteLength)), g.floatTensor('bs', [N], scale)],
      1, {}, 'dqmm', 'com.microsoft')[0]!),
  };
}

async function tokenizerOf(dir: string): Promise<{ tok: TextTokenizer; prompt: string }> {
  const folder = await readModelFolder(dir, 'fp32');
  const tok = TextTokenizer.of(folder);
  return { tok, prompt: folder.prompts.document };
}

async function speed(spec: SpeedSpec): Promise<SpeedResult> {
  const texts = JSON.parse(readFileSync(spec.textsFile, 'utf8')) as string[];
  const { tok, prompt } = await tokenizerOf(MODEL_DIR);
  const ids = texts.map((t) => tok.encode(prompt, t).ids);
  const groups = planBatches(ids.map((r) => r.length), BUDGET);
  const encoders = new Map<string, Encoder>();
  for (const v of ENCODERS) {
    encoders.set(v.name, await createLocalEncoder({ dir: v.dir, dtype: v.dtype, threads: spec.threads, maxBatchTokens: BUDGET }));
  }
  const unfused = await ort.InferenceSession.create(join(PLAIN_DIR, 'onnx/model.onnx'), sessionOptions(spec.threads, 'disabled'));
  const peak = await peakSessions(spec.threads);
  const runners: [string, (g: number) => Promise<unknown>][] = [
    ...ENCODERS.map((v): [string, (g: number) => Promise<unknown>] =>
      [v.name, (g) => encoders.get(v.name)!.encode(groups[g]!.map((i) => texts[i]!), 'document')]),
    [UNFUSED, (g) => unfused.run(paddedFeeds(groups[g]!.map((i) => ids[i]!), tok.padId))],
  ];
  // First-run costs out of the timing: the smallest batch through everything.
  for (const [, run] of runners) await run(groups.length - 1);
  const timings: Record<string, Timing> = Object.fromEntries(runners.map(([name]) => [name, { seconds: 0, tokens: 0, rows: 0 }]));
  const peaks: number[] = [];
  const int8Peaks: number[] = [];
  for (let g = 0; g < groups.length; g++) {
    if (g % 4 === 0) {
      peaks.push(await peak.fp32());
      int8Peaks.push(await peak.int8());
    }
    const tokens = groups[g]!.reduce((s, i) => s + ids[i]!.length, 0);
    for (let k = 0; k < runners.length; k++) {
      const [name, run] = runners[(g + k) % runners.length]!;
      const t0 = performance.now();
      await run(g);
      const t = timings[name]!;
      t.seconds += (performance.now() - t0) / 1000;
      t.tokens += tokens;
      t.rows += groups[g]!.length;
    }
  }
  peaks.push(await peak.fp32());
  int8Peaks.push(await peak.int8());
  for (const e of encoders.values()) await e.close();
  await unfused.release();
  const padded = groups.reduce((s, b) => s + b.length * Math.max(...b.map((i) => ids[i]!.length)), 0);
  return { timings, peak: median(peaks), int8Peak: median(int8Peaks), batches: groups.length, padded };
}

async function child(spec: Spec): Promise<unknown> {
  if (spec.kind === 'speed') return speed(spec);
  const texts = JSON.parse(readFileSync(spec.textsFile, 'utf8')) as string[];
  if (spec.kind === 'rss') {
    // The daemon's shape: 2 threads, a sync batch of 64 texts.
    const encoder = await createLocalEncoder({ dir: spec.dir, dtype: spec.dtype, threads: 2, maxBatchTokens: BUDGET });
    await encoder.encode(texts.slice(0, 64), 'document');
    const file = encoder.info.file;
    await encoder.close();
    return { maxRssMb: maxRssMb(), file };
  }
  const open = (dtype: 'fp32' | 'int8') => createLocalEncoder({ dir: spec.dir, dtype, threads: spec.threads, maxBatchTokens: BUDGET });
  const fp32 = await open('fp32');
  const a = (await fp32.encode(texts, 'document')).vectors;
  await fp32.close();
  const int8 = await open('int8');
  const b = (await int8.encode(texts, 'document')).vectors;
  await int8.close();
  const cos = a.map((v, i) => v.reduce((s, x, j) => s + x * b[i]![j]!, 0)); // unit vectors
  return { mean: cos.reduce((s, c) => s + c, 0) / cos.length, min: Math.min(...cos), n: cos.length };
}

function runChild<T>(spec: Spec): T {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', JSON.stringify(spec)],
    { encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !line.startsWith('{')) {
    throw new Error(`child ${JSON.stringify(spec)} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  }
  return JSON.parse(line) as T;
}

/** Useful FLOPs of the encoder on these token lengths (projections + FFN + attention scores/context). */
function encoderFlops(cfg: EncoderConfig, lengths: readonly number[]): number {
  const H = cfg.hiddenSize, I = cfg.intermediateSize;
  return lengths.reduce((s, S) => s + cfg.numLayers * (2 * S * (4 * H * H + 2 * H * I) + 4 * S * S * H), 0);
}

const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();

async function ensureModels(log: (s: string) => void): Promise<void> {
  if (!existsSync(join(MODEL_DIR, 'model.safetensors'))) {
    log('generating the RoSBERTa-shaped checkpoint (scripts/make-rosberta-shape.ts) …');
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/make-rosberta-shape.ts'), '--out', MODEL_DIR],
      { stdio: 'inherit' });
  }
  if (!existsSync(join(MODEL_DIR, 'onnx/model_quantized.onnx'))) {
    log('importing it (fused fp32 + int8) …');
    await importModel(MODEL_DIR, { quantize: 'int8', variant: 'fused' });
  }
  if (!existsSync(join(PLAIN_DIR, 'onnx/model.onnx'))) {
    log('importing the plain-op graph for comparison …');
    await importModel(MODEL_DIR, { outDir: PLAIN_DIR, variant: 'plain' });
  }
}

async function main(): Promise<void> {
  const log = (s: string) => process.stdout.write(`${s}\n`);
  const started = performance.now();
  const speedTexts = Number(process.env.BENCH_TEXTS ?? 500);
  const gateTexts = Number(process.env.BENCH_GATE_TEXTS ?? 500);
  const threadCounts = (process.env.BENCH_THREADS ?? '1,2').split(',').map(Number);
  log(`bench:model — load at start: ${uptime()}`);
  await ensureModels(log);
  const cfg = parseEncoderConfig(JSON.parse(readFileSync(join(MODEL_DIR, 'config.json'), 'utf8')));
  const { tok, prompt } = await tokenizerOf(MODEL_DIR);
  const count = (t: string) => tok.encode(prompt, t).ids.length;
  const speedSet = mixedTexts({ count: speedTexts, minTokens: 30, maxTokens: 200, tokens: count, seed: 11 });
  const gate = mixedTexts({ count: gateTexts, minTokens: 8, maxTokens: 32, tokens: count, seed: 12 });
  const lengths = speedSet.map(count);
  const real = lengths.reduce((a, b) => a + b, 0);
  const flops = encoderFlops(cfg, lengths);
  const tmp = mkdtempSync(join(tmpdir(), 'embedsync-bench-model-'));
  try {
    const speedFile = join(tmp, 'speed.json');
    const gateFile = join(tmp, 'gate.json');
    writeFileSync(speedFile, JSON.stringify(speedSet));
    writeFileSync(gateFile, JSON.stringify(gate));
    log(`model: ${cfg.modelType}, ${cfg.numLayers} layers, hidden ${cfg.hiddenSize}, ${cfg.numHeads} heads, ` +
      `intermediate ${cfg.intermediateSize}, vocab ${cfg.vocabSize} (random weights)`);
    const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim().split(/\s+/) ?? [];
    log(`CPU: ${['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8']
      .map((f) => `${f} ${flags.includes(f) ? 'yes' : 'no'}`).join(', ')}`);
    log(`speed texts: ${speedSet.length} mixed ru/en texts, ${Math.min(...lengths)}–${Math.max(...lengths)} tokens ` +
      `(mean ${(real / lengths.length).toFixed(0)}), ` +
      `${real} tokens, ${(flops / 1e9).toFixed(0)} useful GFLOP per pass (padded positions not counted)`);
    log('');
    log('variant                      threads  tokens/s  rows/s  GFLOP/s  % of MatMul peak');
    const results = new Map<number, SpeedResult>();
    for (const threads of threadCounts) {
      const r = runChild<SpeedResult>({ kind: 'speed', threads, textsFile: speedFile });
      results.set(threads, r);
      for (const [name, t] of Object.entries(r.timings)) {
        const gf = flops / t.seconds / 1e9;
        log(`${name.padEnd(28)} ${String(threads).padStart(7)}  ${(t.tokens / t.seconds).toFixed(1).padStart(8)}  ` +
          `${(t.rows / t.seconds).toFixed(2).padStart(6)}  ` +
          `${gf.toFixed(1).padStart(7)}  ${((gf / r.peak) * 100).toFixed(0).padStart(5)}%`);
      }
      log(`  ${r.batches} batches, padding ${((r.padded / real - 1) * 100).toFixed(1)}% over the real tokens; ` +
        `fp32 MatMul peak ${r.peak.toFixed(1)} GFLOP/s, ` +
        `int8 DynamicQuantizeMatMul ${r.int8Peak.toFixed(1)} GOP/s (medians of samples between batches); ` +
        `load ${uptime().replace(/.*load average: /, '')}`);
    }
    log('');
    for (const [threads, r] of results) {
      const tps = (name: string) => r.timings[name]!.tokens / r.timings[name]!.seconds;
      const fusedShare = (flops / r.timings['fused fp32']!.seconds / 1e9) / r.peak;
      log(`${threads} thread(s): fused/plain ${(tps('fused fp32') / tps('plain fp32')).toFixed(2)}× (target ≥ 1.2); ` +
        `int8/fused ${(tps('int8') / tps('fused fp32')).toFixed(2)}× (target ≥ 2.5); ` +
        `fused fp32 at ${(fusedShare * 100).toFixed(0)}% of the MatMul peak (target ≥ 70%)`);
      log(`  what fusion is worth at all: fused / plain-with-ORT-fusions-off ${(tps('fused fp32') / tps(UNFUSED)).toFixed(2)}×; ` +
        `the most int8 can gain here: int8 kernel / fp32 kernel on one MatMul ${(r.int8Peak / r.peak).toFixed(2)}×`);
    }
    log('');
    for (const v of ENCODERS) {
      const r = runChild<{ maxRssMb: number; file: string }>({ kind: 'rss', dir: v.dir, dtype: v.dtype, textsFile: speedFile });
      log(`peak RSS, ${v.name} encoder process (2 threads, a 64-text batch): ${r.maxRssMb.toFixed(0)} MB (${r.file})` +
        `${v.dtype === 'int8' ? ' (target < 1024 MB)' : ''}`);
    }
    log('');
    log(`int8 quality gate: ${gate.length} mixed ru/en texts of 8–32 tokens, cosine(fused fp32, int8) of the pooled, normalized vectors …`);
    const g = runChild<{ mean: number; min: number; n: number }>({ kind: 'gate', dir: MODEL_DIR, threads: 2, textsFile: gateFile });
    log(`int8 quality gate over ${g.n} texts: mean cosine ${g.mean.toFixed(5)} (≥ 0.99 ${g.mean >= 0.99 ? 'PASS' : 'FAIL'}), ` +
      `min ${g.min.toFixed(5)} (≥ 0.97 ${g.min >= 0.97 ? 'PASS' : 'FAIL'})`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`load at end: ${uptime()}`);
  log(`bench:model finished in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

const at = process.argv.indexOf('--child');
if (at >= 0) {
  process.stdout.write(`${JSON.stringify(await child(JSON.parse(process.argv[at + 1]!) as Spec))}\n`);
} else {
  await main();
}
