// Writes a random checkpoint with ai-forever/ru-en-RoSBERTa's shape (RoBERTa-large: 24 layers, hidden 1024,
// 16 heads, intermediate 4096, 514 positions, vocab 50265, CLS pooling, the two prompts, Normalize) and the
// test model's tokenizer grown to the vocabulary, for benchmarks of import, int8 and speed; smaller shapes with --layers / --hidden.
// Random weights: its vectors mean nothing. Generated, never committed (models/ is ignored).
//   usage: npx tsx scripts/make-rosberta-shape.ts [--out models/rosberta-shape] [--layers 24] [--hidden 1024] [--vocab 50265]
//          [--dtype F32|F16|BF16]
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { ROSBERTA_SHAPE, writeShapedCheckpoint } from '../test/support/shaped-checkpoint.ts';

export { ROSBERTA_SHAPE };

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'models/rosberta-shape' },
    layers: { type: 'string', default: String(ROSBERTA_SHAPE.num_hidden_layers) },
    hidden: { type: 'string' },
    vocab: { type: 'string', default: String(ROSBERTA_SHAPE.vocab_size) },
    dtype: { type: 'string', default: 'F32' },
    seed: { type: 'string', default: '424242' },
  },
});
const dtype = values.dtype as 'F32' | 'F16' | 'BF16';
if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new Error(`--dtype ${values.dtype}: F32, F16 or BF16`);
const out = resolve(values.out);
const started = performance.now();
const { config: cfg, parameters } = writeShapedCheckpoint(out, {
  layers: Number(values.layers), vocab: Number(values.vocab), dtype, seed: Number(values.seed),
  ...(values.hidden ? { hidden: Number(values.hidden) } : {}),
});
process.stdout.write(`wrote ${out}: ${cfg.numLayers} layers, hidden ${cfg.hiddenSize}, vocab ${cfg.vocabSize}, ` +
  `${(parameters / 1e6).toFixed(1)}M parameters (${dtype}) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
