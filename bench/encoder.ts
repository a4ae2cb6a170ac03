// Encoder benchmark (prints figures; not a test). Same process, same threads, interleaved repetitions:
//  1. encode() on raw texts vs a bare InferenceSession.run (on the same session) with the same batches,
//     pre-tokenized and pre-built as tensors:
//     what tokenizing, padding, pooling and normalizing add on top of the model (target < 5%).
//  2. the encoder's batch plan (length-sorted, least-cost cuts within the token budget) vs naive fixed batches of
//     32 in arrival order, on texts of 10–400 tokens, both as bare runs on the same session.
// Models: the committed test model (hidden 64: a worst case, the model costs almost nothing) and a
// MiniLM-shaped model (6 layers, hidden 384, seeded random weights) built in a temp folder.
//   usage: npm run bench:encoder [-- --texts 128 --reps 3]
import { availableParallelism, tmpdir } from 'node:os';
import { cp, mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { paddedFeeds } from '../src/encoder/padded-feeds.ts';
import { planBatches } from '../src/encoder/batching.ts';
import { createLocalEncoder } from '../src/encoder/local-encoder.ts';
import { readModelFolder } from '../src/encoder/model-folder.ts';
import { createSession, readOnnx } from '../src/encoder/onnx-session.ts';
import { TextTokenizer } from '../src/encoder/text-tokenizer.ts';
import { parseEncoderConfig } from '../src/model/checkpoint.ts';
import { convertCheckpoint } from '../src/model/convert-checkpoint.ts';
import { parseSafetensors, writeSafetensors } from '../src/model/safetensors.ts';
import { TINY_CONFIG, randomEncoderWeights } from '../src/model/tiny-model.ts';
import { TINY_MODEL_DIR } from '../test/support/tiny-model-dir.ts';
import { TINY_CORPUS } from '../src/model/tiny-corpus.ts';

const { values } = parseArgs({ options: { texts: { type: 'string', default: '128' }, reps: { type: 'string', default: '3' } } });
let N = Number(values.texts);
const REPS = Number(values.reps);
const THREADS = availableParallelism();
const BUDGET = 8192;

/** Mixed-length corpus: each text a random run of corpus words sized for 10–400 tokens. */
function corpus(tokenizer: TextTokenizer, count: number): string[] {
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const words = TINY_CORPUS.split(/\s+/).filter(Boolean);
  return Array.from({ length: count }, () => {
    const target = 10 + Math.floor(rand() * 391);
    const parts: string[] = [];
    let text = '';
    let start = Math.floor(rand() * words.length);
    while (tokenizer.encode('search_document: ', text).ids.length < target) {
      parts.push(words[start++ % words.length]!);
      text = parts.join(' ');
    }
    return text;
  });
}

async function miniLmFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'embedsync-bench-'));
  await cp(TINY_MODEL_DIR, dir, { recursive: true });
  const config = { ...TINY_CONFIG, hidden_size: 384, num_hidden_layers: 6, num_attention_heads: 12, intermediate_size: 1536 };
  const cfg = parseEncoderConfig(config);
  const weights = parseSafetensors(writeSafetensors(randomEncoderWeights(cfg, { seed: 99 }))).tensors;
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'onnx/model.onnx'), convertCheckpoint({ config: cfg, weights }));
  await rm(join(dir, 'model.safetensors'));
  const pooling = JSON.parse(await readFile(join(dir, '1_Pooling/config.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, '1_Pooling/config.json'), JSON.stringify({ ...pooling, word_embedding_dimension: 384 }));
  return dir;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

async function benchModel(label: string, dir: string): Promise<void> {
  const encoder = await createLocalEncoder({ dir, dtype: 'fp32', sessions: 1, threads: THREADS, maxBatchTokens: BUDGET });
  const folder = await readModelFolder(dir, 'fp32');
  const tok = TextTokenizer.of(folder);
  const texts = corpus(tok, N);
  const ids = texts.map((t) => tok.encode('search_document: ', t).ids);
  const tokens = ids.reduce((a, r) => a + r.length, 0);
  const sortedBatches = planBatches(ids.map((r) => r.length), BUDGET).map((b) => paddedFeeds(b.map((i) => ids[i]!), tok.padId));
  const naiveGroups = Array.from({ length: Math.ceil(N / 32) }, (_, g) => ids.slice(g * 32, g * 32 + 32));
  const padded = (groups: (readonly number[])[][]) => groups.reduce((a, g) => a + g.length * Math.max(...g.map((r) => r.length)), 0);
  const sortedGroups = planBatches(ids.map((r) => r.length), BUDGET).map((b) => b.map((i) => ids[i]!));
  // A bare session with the encoder's options and thread count, on this thread; the encoder runs its own in a
  // worker thread. They take turns, so neither competes with the other for cores.
  const session = await createSession(await readOnnx(join(dir, folder.onnxFile)), THREADS);
  const sortedPlan = planBatches(ids.map((r) => r.length), BUDGET);
  // The plans compared on the bare session, so only the batching differs (the encoder itself always plans).
  const naiveBatches = naiveGroups.map((g) => paddedFeeds(g, tok.padId));
  const naive = async () => { for (const f of naiveBatches) await session.run(f); };
  const sorted = async () => { for (const f of sortedBatches) await session.run(f); };
  // Warm-up, then repetitions. The overhead pair is measured batch by batch, alternating which goes
  // first, so load from other processes hits both sides alike.
  for (const f of sortedBatches) await session.run(f);
  await sorted();
  await naive();
  const t = { bare: 0, encode: 0, naive: Infinity, sorted: Infinity };
  for (let r = 0; r < REPS; r++) {
    for (let b = 0; b < sortedPlan.length; b++) {
      const batchTexts = sortedPlan[b]!.map((i) => texts[i]!);
      const runBare = async () => { t.bare += await timed(() => session.run(sortedBatches[b]!)); };
      const runEncode = async () => { t.encode += await timed(() => encoder.encode(batchTexts, 'document')); };
      if ((r + b) % 2 === 0) { await runBare(); await runEncode(); } else { await runEncode(); await runBare(); }
    }
    if (r % 2 === 0) {
      t.sorted = Math.min(t.sorted, await timed(sorted));
      t.naive = Math.min(t.naive, await timed(naive));
    } else {
      t.naive = Math.min(t.naive, await timed(naive));
      t.sorted = Math.min(t.sorted, await timed(sorted));
    }
  }
  t.bare /= REPS;
  t.encode /= REPS;
  const line = (name: string, s: number) =>
    `  ${name.padEnd(46)} ${(N / s).toFixed(1).padStart(8)} seq/s ${(tokens / s).toFixed(0).padStart(8)} tokens/s  ` +
    `(${(s * 1000).toFixed(0)} ms)`;
  console.log(`${label}: ${N} texts, ${tokens} tokens ` +
    `(${Math.min(...ids.map((r) => r.length))}–${Math.max(...ids.map((r) => r.length))} per text), ${THREADS} threads, ${REPS} reps`);
  console.log(line('bare InferenceSession.run (pre-tokenized)', t.bare));
  console.log(line('encode() on the same batches (mean of reps)', t.encode));
  console.log(`  encoder overhead vs bare run: ${(((t.encode - t.bare) / t.bare) * 100).toFixed(1)}%`);
  console.log(line('least-cost sorted batches, bare run (best rep)', t.sorted));
  console.log(line('fixed batches of 32 in arrival order (best rep)', t.naive));
  console.log(`  least-cost sorted batches speed-up over fixed batches of 32: ${(t.naive / t.sorted).toFixed(2)}x ` +
    `(padded tokens computed: ${padded(sortedGroups)} sorted vs ${padded(naiveGroups)} fixed, ${tokens} real)`);
  await session.release();
  await encoder.close();
}

await benchModel('test model (2 layers, hidden 64)', TINY_MODEL_DIR);
// The larger model gets half the texts so a run stays within a few minutes on a small machine.
N = Math.max(32, Math.floor(N / 2));
const mini = await miniLmFolder();
try {
  await benchModel('MiniLM-shaped model (6 layers, hidden 384, random weights)', mini);
} finally {
  await rm(mini, { recursive: true, force: true });
}
