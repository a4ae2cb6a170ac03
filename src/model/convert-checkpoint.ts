// HF BERT/RoBERTa checkpoint → ONNX graph of plain opset-17 ops, numerically the HF modeling code:
// embeddings (word + position + token type 0) → LayerNorm → N × [self-attention (scaled 1/sqrt(head_dim),
// additive mask) + residual LayerNorm, exact-erf GELU MLP + residual LayerNorm] → last_hidden_state.
// Inputs: input_ids, attention_mask (int64 [batch, sequence]).
import { CheckpointWeights, transpose2d, usesPaddingOffsetPositions, type EncoderConfig } from './checkpoint.ts';
import { GraphBuilder, attr } from './graph-builder.ts';
import type { TensorEntry } from './safetensors.ts';

export const OPSET = 17;
export const GRAPH_INPUTS = ['input_ids', 'attention_mask'] as const;
export const GRAPH_OUTPUT = 'last_hidden_state';
/** torch.finfo(float32).min, what HF adds to masked attention scores. */
export const MASK_VALUE = -3.4028234663852886e38;

export interface ConvertInput {
  readonly config: EncoderConfig;
  /** All checkpoint tensors by HF name (one safetensors file or the union of shards). */
  readonly weights: ReadonlyMap<string, TensorEntry>;
  readonly producerVersion?: string;
}

/** Builds the ONNX bytes of the encoder described by an HF checkpoint. */
export function convertCheckpoint({ config: cfg, weights, producerVersion = '0' }: ConvertInput): Uint8Array {
  const w = new CheckpointWeights(weights);
  const g = new GraphBuilder('embedsync_encoder');
  const H = cfg.hiddenSize;
  const heads = cfg.numHeads;
  const headDim = H / heads;
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'sequence']);

  const linear = (x: string, base: string, inSize: number, outSize: number): string => {
    const weight = g.floatTensor(`${base}.weight`, [inSize, outSize], transpose2d(w.get(`${base}.weight`, [outSize, inSize])));
    const bias = g.floatTensor(`${base}.bias`, [outSize], w.get(`${base}.bias`, [outSize]).data);
    return g.node('Add', [g.node('MatMul', [x, weight]), bias]);
  };
  const layerNorm = (x: string, base: string): string => {
    const p = w.layerNorm(base, H);
    const scale = g.floatTensor(`${base}.weight`, [H], p.weight.data);
    const bias = g.floatTensor(`${base}.bias`, [H], p.bias.data);
    return g.node('LayerNormalization', [x, scale, bias], { axis: attr.int(-1), epsilon: attr.float(cfg.layerNormEps) });
  };

  // Embeddings.
  const wordTable = g.floatTensor('embeddings.word_embeddings.weight', [cfg.vocabSize, H],
    w.get('embeddings.word_embeddings.weight', [cfg.vocabSize, H]).data);
  const posTable = g.floatTensor('embeddings.position_embeddings.weight', [cfg.maxPositions, H],
    w.get('embeddings.position_embeddings.weight', [cfg.maxPositions, H]).data);
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
    const types = w.get('embeddings.token_type_embeddings.weight', [cfg.typeVocabSize, H]);
    x = g.node('Add', [x, g.floatTensor('embeddings.token_type_embeddings.row0', [H], types.data.slice(0, H))]);
  }
  x = layerNorm(x, 'embeddings.LayerNorm');

  // Additive mask [batch, 1, 1, sequence]: 0 where attended, finfo.min where padded.
  const maskF = g.node('Cast', [g.node('Unsqueeze', [mask, g.constInt64([1, 2])])], { to: attr.int(1) });
  const additive = g.node('Mul', [g.node('Sub', [g.constFloat(1), maskF]), g.constFloat(MASK_VALUE)]);
  const headsShape = g.constInt64([0, 0, heads, headDim]);
  const mergedShape = g.constInt64([0, 0, H]);
  const scale = g.constFloat(1 / Math.sqrt(headDim));

  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `encoder.layer.${i}`;
    const split = (v: string, perm: number[]) => g.node('Transpose', [g.node('Reshape', [v, headsShape])], { perm: attr.ints(perm) });
    const q = split(linear(x, `${p}.attention.self.query`, H, H), [0, 2, 1, 3]);
    const k = split(linear(x, `${p}.attention.self.key`, H, H), [0, 2, 3, 1]);
    const v = split(linear(x, `${p}.attention.self.value`, H, H), [0, 2, 1, 3]);
    const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [q, k]), scale]), additive]);
    const probs = g.node('Softmax', [scores], { axis: attr.int(-1) });
    const context = g.node('Reshape', [g.node('Transpose', [g.node('MatMul', [probs, v])], { perm: attr.ints([0, 2, 1, 3]) }), mergedShape]);
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
  return g.encode({
    producerName: 'embedsync',
    producerVersion,
    opsets: { '': OPSET },
    docString: `${cfg.modelType} encoder, ${cfg.numLayers} layers, hidden ${H}`,
  });
}
