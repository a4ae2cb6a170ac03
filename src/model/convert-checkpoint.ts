// HF BERT/RoBERTa checkpoint → ONNX encoder graph: embeddings (word + position + token type 0) → LayerNorm →
// N × [self-attention (scaled 1/sqrt(head_dim), additive mask) + residual LayerNorm, exact-erf GELU MLP +
// residual LayerNorm] → last_hidden_state. Inputs: input_ids, attention_mask (int64 [batch, sequence]).
// convertCheckpoint builds the bytes in memory (small models, tests); writeConvertedModel streams a large
// checkpoint to disk one tensor at a time, with external data past the protobuf limit.
import { CheckpointWeights, type EncoderConfig } from './checkpoint.ts';
import {
  buildEncoderGraph, checkCheckpointShapes, inMemoryStore, LazyStore, GRAPH_OUTPUT as OUTPUT, MASK_VALUE as MASK,
  OPSET as OPSET_VERSION, type GraphVariant, type Int8Kernel, type WeightType,
} from './encoder-graph.ts';
import { GraphBuilder } from './graph-builder.ts';
import { writeOnnxFile, type WriteOnnxOptions, type WrittenOnnx } from './onnx-file.ts';
import type { TensorEntry } from './safetensors-format.ts';

export const OPSET = OPSET_VERSION;
export const GRAPH_INPUTS = ['input_ids', 'attention_mask'] as const;
export const GRAPH_OUTPUT = OUTPUT;
/** torch.finfo(float32).min, what HF adds to masked attention scores. */
export const MASK_VALUE = MASK;

export interface ConvertInput {
  readonly config: EncoderConfig;
  /** All checkpoint tensors by HF name (one safetensors file or the union of shards). */
  readonly weights: ReadonlyMap<string, TensorEntry>;
  readonly producerVersion?: string;
  /** plain (default): standard ops only; fused: ONNX Runtime contrib ops. */
  readonly variant?: GraphVariant;
  /** fp32 (default) or int8 weights in the large MatMuls. */
  readonly weightType?: WeightType;
  readonly int8Kernel?: Int8Kernel;
}

const docString = (cfg: EncoderConfig, variant: GraphVariant, weightType: WeightType) =>
  `${cfg.modelType} encoder, ${cfg.numLayers} layers, hidden ${cfg.hiddenSize}` +
  (variant === 'plain' && weightType === 'fp32' ? '' : `, ${variant} graph, ${weightType} weights`);

/** Builds the ONNX bytes of the encoder described by an HF checkpoint. */
export function convertCheckpoint({
  config: cfg, weights, producerVersion = '0', variant = 'plain', weightType = 'fp32', int8Kernel,
}: ConvertInput): Uint8Array {
  const g = new GraphBuilder('embedsync_encoder');
  const opsets = buildEncoderGraph(g, cfg, new CheckpointWeights(weights), inMemoryStore(g),
    { variant, weights: weightType, ...(int8Kernel ? { int8Kernel } : {}) });
  return g.encode({ producerName: 'embedsync', producerVersion, opsets, docString: docString(cfg, variant, weightType) });
}

/**
 * Writes the encoder to `path`, reading, converting and writing one weight tensor at a time (memory stays
 * near the largest tensor, not the model). Shapes are all checked before the file is started.
 */
export function writeConvertedModel(path: string, input: ConvertInput, opts: WriteOnnxOptions = {}): WrittenOnnx {
  const { config: cfg, weights, producerVersion = '0', variant = 'plain', weightType = 'fp32', int8Kernel } = input;
  checkCheckpointShapes(cfg, weights);
  const g = new GraphBuilder('embedsync_encoder');
  const store = new LazyStore();
  const opsets = buildEncoderGraph(g, cfg, new CheckpointWeights(weights), store,
    { variant, weights: weightType, ...(int8Kernel ? { int8Kernel } : {}) });
  const graph = g.encode({ producerName: 'embedsync', producerVersion, opsets, docString: docString(cfg, variant, weightType) });
  return writeOnnxFile(path, graph, store.tensors, opts);
}
