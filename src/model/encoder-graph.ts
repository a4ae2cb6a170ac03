// The BERT/RoBERTa encoder as an ONNX graph, in the variants embedsync writes:
//   plain — standard opset-17 ops only (ONNX Runtime fuses Gelu/SkipLayerNorm itself at load);
//   fused — ONNX Runtime contrib ops (com.microsoft): Attention with packed QKV, SkipLayerNormalization with
//           the dense bias folded in, BiasGelu (exact erf);
// each in fp32 or int8 (per-channel symmetric int8 weights in DynamicQuantizeMatMul for every large MatMul;
// embeddings and LayerNorms stay fp32; in the fused int8 graph the attention core is MultiHeadAttention,
// since Attention takes fp32 weights only).
// Numerics follow the HF modeling code: embeddings = word + position + token type 0 → LayerNorm(eps);
// RoBERTa positions cumsum(mask) * mask + padding_idx, BERT's 0..n-1; scores scaled 1/sqrt(head_dim) with
// an additive mask; exact erf GELU.
import { CheckpointError, CheckpointWeights, transpose2d, usesPaddingOffsetPositions, type EncoderConfig } from './checkpoint.ts';
import { GraphBuilder, attr, float32Bytes } from './graph-builder.ts';
import type { LazyTensor } from './onnx-file.ts';
import type { OnnxDtype } from './onnx-proto.ts';
import { nbitsBlockSize, quantizeColumns, quantizeNbits8, type Int8Kernel } from './quantize-int8.ts';
import type { TensorEntry } from './safetensors.ts';

export { INT8_KERNELS, type Int8Kernel } from './quantize-int8.ts';

export const GRAPH_VARIANTS = ['plain', 'fused'] as const;
export type GraphVariant = (typeof GRAPH_VARIANTS)[number];
export const WEIGHT_TYPES = ['fp32', 'int8'] as const;
export type WeightType = (typeof WEIGHT_TYPES)[number];

export const OPSET = 17;
export const MS_DOMAIN = 'com.microsoft';
export const GRAPH_OUTPUT = 'last_hidden_state';
/** torch.finfo(float32).min, what HF adds to masked attention scores. */
export const MASK_VALUE = -3.4028234663852886e38;

/** Where large tensors go: straight into the builder, or deferred until the file is written. */
export interface WeightStore {
  add(name: string, dtype: OnnxDtype, dims: readonly number[], produce: () => Uint8Array): string;
}

export function inMemoryStore(g: GraphBuilder): WeightStore {
  return { add: (name, dtype, dims, produce) => g.initializer(name, dtype, dims, produce()) };
}

export class LazyStore implements WeightStore {
  readonly tensors: LazyTensor[] = [];
  private readonly names = new Set<string>();
  add(name: string, dtype: OnnxDtype, dims: readonly number[], produce: () => Uint8Array): string {
    if (this.names.has(name)) throw new Error(`duplicate initializer ${name}`);
    this.names.add(name);
    this.tensors.push({ name, dtype, dims, produce });
    return name;
  }
}

export interface EncoderGraphOptions {
  readonly variant: GraphVariant;
  readonly weights: WeightType;
  readonly int8Kernel?: Int8Kernel;
}

const int8Bytes = (q: Int8Array): Uint8Array => new Uint8Array(q.buffer, q.byteOffset, q.byteLength);

/** Every parameter the graph reads, with its HF shape, checked before anything is written. */
export function checkCheckpointShapes(cfg: EncoderConfig, tensors: ReadonlyMap<string, TensorEntry>, label = 'checkpoint'): void {
  const key = [...tensors.keys()].find((k) => k.endsWith('embeddings.word_embeddings.weight'));
  if (key === undefined) throw new CheckpointError(`${label}: no embeddings.word_embeddings.weight tensor; not a BERT-family checkpoint`);
  const prefix = key.slice(0, -'embeddings.word_embeddings.weight'.length);
  const H = cfg.hiddenSize;
  const expected: [string[], number[]][] = [
    [['embeddings.word_embeddings.weight'], [cfg.vocabSize, H]],
    [['embeddings.position_embeddings.weight'], [cfg.maxPositions, H]],
  ];
  const ln = (b: string) => expected.push([[`${b}.weight`, `${b}.gamma`], [H]], [[`${b}.bias`, `${b}.beta`], [H]]);
  const lin = (b: string, i: number, o: number) => expected.push([[`${b}.weight`], [o, i]], [[`${b}.bias`], [o]]);
  ln('embeddings.LayerNorm');
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `encoder.layer.${i}`;
    for (const n of ['query', 'key', 'value']) lin(`${p}.attention.self.${n}`, H, H);
    lin(`${p}.attention.output.dense`, H, H);
    ln(`${p}.attention.output.LayerNorm`);
    lin(`${p}.intermediate.dense`, H, cfg.intermediateSize);
    lin(`${p}.output.dense`, cfg.intermediateSize, H);
    ln(`${p}.output.LayerNorm`);
  }
  const problems: string[] = [];
  for (const [names, shape] of expected) {
    const found = names.map((n) => tensors.get(prefix + n)).find((t) => t !== undefined);
    if (!found) problems.push(`missing ${prefix + names[0]!}`);
    else if (found.shape.length !== shape.length || found.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${prefix + names[0]!} has shape [${found.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
  }
  if (problems.length) {
    throw new CheckpointError(`${label} does not match config.json: ${problems.slice(0, 5).join('; ')}` +
      `${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`);
  }
}

/** Adds inputs, nodes and weights of the encoder to `g`; returns the opsets the graph needs. */
export function buildEncoderGraph(
  g: GraphBuilder, cfg: EncoderConfig, w: CheckpointWeights, store: WeightStore, opts: EncoderGraphOptions,
): Readonly<Record<string, number>> {
  const H = cfg.hiddenSize;
  const heads = cfg.numHeads;
  const headDim = H / heads;
  const fused = opts.variant === 'fused';
  const int8 = opts.weights === 'int8';
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'sequence']);
  const ms = (op: string, inputs: readonly string[], attrs: Parameters<GraphBuilder['nodeN']>[3] = {}) =>
    g.nodeN(op, inputs, 1, attrs, undefined, MS_DOMAIN)[0]!;

  const floats = (name: string, dims: readonly number[], produce: () => Float32Array): string =>
    store.add(name, 'float', dims, () => {
      const data = produce();
      const expected = dims.reduce((a, b) => a * b, 1);
      if (data.length !== expected) throw new Error(`${name}: ${data.length} values for shape [${dims.join(', ')}]`);
      return float32Bytes(data);
    });
  /** [in, out] weight of one or more HF Linear layers side by side (packed QKV), transposed for MatMul. */
  const matmulWeight = (bases: readonly string[], inSize: number, outSize: number): Float32Array => {
    if (bases.length === 1) return transpose2d(w.get(`${bases[0]}.weight`, [outSize, inSize]));
    const total = outSize * bases.length;
    const out = new Float32Array(inSize * total);
    bases.forEach((b, j) => {
      const t = transpose2d(w.get(`${b}.weight`, [outSize, inSize]));
      for (let r = 0; r < inSize; r++) out.set(t.subarray(r * outSize, (r + 1) * outSize), r * total + j * outSize);
    });
    return out;
  };
  const biasOf = (bases: readonly string[], outSize: number): Float32Array => {
    const out = new Float32Array(outSize * bases.length);
    bases.forEach((b, j) => out.set(w.get(`${b}.bias`, [outSize]).data, j * outSize));
    return out;
  };
  const weightName = (bases: readonly string[]) =>
    bases.length === 1 ? `${bases[0]}.weight` : `${bases[0]!.replace(/\.query$/, '.qkv')}.weight`;
  const biasName = (bases: readonly string[]) => weightName(bases).replace(/\.weight$/, '.bias');

  /** x · W (+ bias when `withBias`); returns the product and the bias name left to add (fused consumers). */
  const project = (x: string, bases: readonly string[], inSize: number, outSize: number,
    withBias: boolean): { y: string; bias: string } => {
    const cols = outSize * bases.length;
    let y: string;
    let bias: string;
    if (int8 && (opts.int8Kernel ?? 'dqmatmul') === 'nbits') {
      const block = nbitsBlockSize(inSize);
      const blocks = Math.ceil(inSize / block);
      let cached: { b: Uint8Array; scale: Float32Array } | undefined;
      const quantized = () => (cached ??= quantizeNbits8(matmulWeight(bases, inSize, outSize), inSize, cols, block));
      const wq = store.add(`${weightName(bases)}.q8`, 'uint8', [cols, blocks, block], () => quantized().b);
      const scale = store.add(`${weightName(bases)}.scale`, 'float', [cols * blocks], () => {
        const s = quantized().scale;
        cached = undefined;
        return float32Bytes(s);
      });
      bias = floats(biasName(bases), [cols], () => biasOf(bases, outSize));
      y = ms('MatMulNBits', withBias ? [x, wq, scale, '', '', bias] : [x, wq, scale], {
        K: attr.int(inSize), N: attr.int(cols), bits: attr.int(8), block_size: attr.int(block), accuracy_level: attr.int(4),
      });
    } else if (int8) {
      const kernel = opts.int8Kernel ?? 'dqmatmul';
      let cached: { q: Int8Array; scale: Float32Array } | undefined;
      const quantized = () =>
        (cached ??= quantizeColumns(matmulWeight(bases, inSize, outSize), inSize, cols, kernel === 'dqmatmul' ? 63 : 127));
      const u8 = kernel === 'dqmatmul-u8';
      const wq = store.add(`${weightName(bases)}.int8`, u8 ? 'uint8' : 'int8', [inSize, cols], () => {
        const q = quantized().q;
        if (!u8) return int8Bytes(q);
        const b = new Uint8Array(q.length);
        for (let i = 0; i < q.length; i++) b[i] = q[i]! + 128;
        return b;
      });
      const zp = u8 ? store.add(`${weightName(bases)}.zero_point`, 'uint8', [cols], () => new Uint8Array(cols).fill(128)) : '';
      const scale = store.add(`${weightName(bases)}.scale`, 'float', [cols], () => {
        const s = quantized().scale;
        cached = undefined; // the int8 matrix is written already; keep nothing
        return float32Bytes(s);
      });
      bias = floats(biasName(bases), [cols], () => biasOf(bases, outSize));
      y = ms('DynamicQuantizeMatMul', withBias ? [x, wq, scale, zp, bias] : zp ? [x, wq, scale, zp] : [x, wq, scale]);
    } else {
      const weight = floats(weightName(bases), [inSize, cols], () => matmulWeight(bases, inSize, outSize));
      bias = floats(biasName(bases), [cols], () => biasOf(bases, outSize));
      y = g.node('MatMul', [x, weight]);
      if (withBias) y = g.node('Add', [y, bias]);
    }
    return { y, bias };
  };
  const linear = (x: string, base: string, inSize: number, outSize: number) => project(x, [base], inSize, outSize, true).y;
  const lnParams = (base: string) => {
    const scale = floats(`${base}.weight`, [H], () => w.layerNorm(base, H).weight.data);
    const bias = floats(`${base}.bias`, [H], () => w.layerNorm(base, H).bias.data);
    return { scale, bias };
  };
  const layerNorm = (x: string, base: string): string => {
    const p = lnParams(base);
    return g.node('LayerNormalization', [x, p.scale, p.bias], { axis: attr.int(-1), epsilon: attr.float(cfg.layerNormEps) });
  };
  /** LayerNorm(input + skip + bias) in one SkipLayerNormalization node. */
  const skipLayerNorm = (input: string, skip: string, bias: string, base: string): string => {
    const p = lnParams(base);
    return ms('SkipLayerNormalization', [input, skip, p.scale, p.bias, bias], { epsilon: attr.float(cfg.layerNormEps) });
  };

  // Embeddings.
  const wordTable = floats('embeddings.word_embeddings.weight', [cfg.vocabSize, H],
    () => w.get('embeddings.word_embeddings.weight', [cfg.vocabSize, H]).data);
  const posTable = floats('embeddings.position_embeddings.weight', [cfg.maxPositions, H],
    () => w.get('embeddings.position_embeddings.weight', [cfg.maxPositions, H]).data);
  let positions: string;
  if (usesPaddingOffsetPositions(cfg)) {
    // HF create_position_ids_from_input_ids: m = (ids != pad); cumsum(m) * m + padding_idx.
    const notPad = g.node('Cast', [g.node('Not', [g.node('Equal', [ids, g.constInt64([cfg.padTokenId], true)])])], { to: attr.int(7) });
    const cum = g.node('CumSum', [notPad, g.constInt64([1], true)]);
    positions = g.node('Add', [g.node('Mul', [cum, notPad]), g.constInt64([cfg.padTokenId], true)]);
  } else {
    // BERT: 0..sequence-1, broadcast over the batch.
    const seqLen = g.node('Gather', [g.node('Shape', [ids]), g.constInt64([1], true)], { axis: attr.int(0) });
    positions = g.node('Range', [g.constInt64([0], true), seqLen, g.constInt64([1], true)]);
  }
  let x = g.node('Add', [g.node('Gather', [wordTable, ids]), g.node('Gather', [posTable, positions])]);
  if (w.has('embeddings.token_type_embeddings.weight')) {
    // embedsync feeds single segments: token type 0 everywhere, a constant row.
    x = g.node('Add', [x, floats('embeddings.token_type_embeddings.row0', [H],
      () => w.get('embeddings.token_type_embeddings.weight', [cfg.typeVocabSize, H]).data.slice(0, H))]);
  }
  x = layerNorm(x, 'embeddings.LayerNorm');

  // Plain graph: additive mask [batch, 1, 1, sequence], 0 where attended, finfo.min where padded.
  // Fused graph: the contrib ops take the raw 0/1 mask as int32 and apply the same rule.
  let additive = '';
  let maskI32 = '';
  if (fused) {
    maskI32 = g.node('Cast', [mask], { to: attr.int(6) });
  } else {
    const maskF = g.node('Cast', [g.node('Unsqueeze', [mask, g.constInt64([1, 2])])], { to: attr.int(1) });
    additive = g.node('Mul', [g.node('Sub', [g.constFloat(1), maskF]), g.constFloat(MASK_VALUE)]);
  }
  const headsShape = fused ? '' : g.constInt64([0, 0, heads, headDim]);
  const mergedShape = fused ? '' : g.constInt64([0, 0, H]);
  const scale = fused ? '' : g.constFloat(1 / Math.sqrt(headDim));
  const qkvSplit = fused && int8 ? g.constInt64([H, H, H]) : '';

  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `encoder.layer.${i}`;
    const qkv = ['query', 'key', 'value'].map((n) => `${p}.attention.self.${n}`);
    if (fused) {
      let context: string;
      if (int8) {
        const packed = project(x, qkv, H, H, true).y;
        const [q, k, v] = g.nodeN('Split', [packed, qkvSplit], 3, { axis: attr.int(-1) });
        context = ms('MultiHeadAttention', [q!, k!, v!, '', maskI32],
          { num_heads: attr.int(heads), mask_filter_value: attr.float(MASK_VALUE) });
      } else {
        const weight = floats(weightName(qkv), [H, 3 * H], () => matmulWeight(qkv, H, H));
        const bias = floats(biasName(qkv), [3 * H], () => biasOf(qkv, H));
        context = ms('Attention', [x, weight, bias, maskI32], { num_heads: attr.int(heads), mask_filter_value: attr.float(MASK_VALUE) });
      }
      const attnOut = project(context, [`${p}.attention.output.dense`], H, H, false);
      x = skipLayerNorm(attnOut.y, x, attnOut.bias, `${p}.attention.output.LayerNorm`);
      const up = project(x, [`${p}.intermediate.dense`], H, cfg.intermediateSize, false);
      const gelu = ms('BiasGelu', [up.y, up.bias]);
      const down = project(gelu, [`${p}.output.dense`], cfg.intermediateSize, H, false);
      x = skipLayerNorm(down.y, x, down.bias, `${p}.output.LayerNorm`);
      continue;
    }
    const split = (v: string, perm: number[]) => g.node('Transpose', [g.node('Reshape', [v, headsShape])], { perm: attr.ints(perm) });
    const q = split(linear(x, qkv[0]!, H, H), [0, 2, 1, 3]);
    const k = split(linear(x, qkv[1]!, H, H), [0, 2, 3, 1]);
    const v = split(linear(x, qkv[2]!, H, H), [0, 2, 1, 3]);
    const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [q, k]), scale]), additive]);
    const probs = g.node('Softmax', [scores], { axis: attr.int(-1) });
    const context = g.node('Reshape',
      [g.node('Transpose', [g.node('MatMul', [probs, v])], { perm: attr.ints([0, 2, 1, 3]) }), mergedShape]);
    const attnOut = linear(context, `${p}.attention.output.dense`, H, H);
    x = layerNorm(g.node('Add', [attnOut, x]), `${p}.attention.output.LayerNorm`);

    const inter = linear(x, `${p}.intermediate.dense`, H, cfg.intermediateSize);
    // Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))), the pattern ONNX Runtime fuses into Gelu.
    const erf = g.node('Erf', [g.node('Div', [inter, g.constFloat(Math.SQRT2)])]);
    const gelu = g.node('Mul', [g.node('Mul', [inter, g.node('Add', [erf, g.constFloat(1)])]), g.constFloat(0.5)]);
    const out = linear(gelu, `${p}.output.dense`, cfg.intermediateSize, H);
    x = layerNorm(g.node('Add', [out, x]), `${p}.output.LayerNorm`);
  }
  g.output(g.identity(x, GRAPH_OUTPUT), 'float', ['batch', 'sequence', H]);
  return fused || int8 ? { '': OPSET, [MS_DOMAIN]: 1 } : { '': OPSET };
}
