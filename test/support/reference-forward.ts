// An independent float64 forward pass of a BERT/RoBERTa encoder straight from HF checkpoint weights, written
// from the HF modeling code (not from the ONNX graph). It is slow and simple on purpose: it is the yardstick
// that proves a converted ONNX graph computes the same thing.
import { CheckpointWeights, usesPaddingOffsetPositions, type EncoderConfig } from '../../src/model/checkpoint.ts';
import type { TensorEntry } from '../../src/model/safetensors.ts';

type Matrix = { rows: number; cols: number; data: Float64Array };

function param(w: CheckpointWeights, name: string, shape: number[]): Float64Array {
  return Float64Array.from(w.get(name, shape).data);
}

/** y = x · Wᵀ + b with HF's [out, in] weight layout. */
function linear(x: Matrix, weight: Float64Array, bias: Float64Array, out: number): Matrix {
  const y = new Float64Array(x.rows * out);
  for (let r = 0; r < x.rows; r++) {
    for (let o = 0; o < out; o++) {
      let s = bias[o]!;
      for (let i = 0; i < x.cols; i++) s += x.data[r * x.cols + i]! * weight[o * x.cols + i]!;
      y[r * out + o] = s;
    }
  }
  return { rows: x.rows, cols: out, data: y };
}

function layerNorm(x: Matrix, gamma: Float64Array, beta: Float64Array, eps: number): Matrix {
  const y = new Float64Array(x.data.length);
  for (let r = 0; r < x.rows; r++) {
    let mean = 0;
    for (let c = 0; c < x.cols; c++) mean += x.data[r * x.cols + c]!;
    mean /= x.cols;
    let variance = 0;
    for (let c = 0; c < x.cols; c++) variance += (x.data[r * x.cols + c]! - mean) ** 2;
    variance /= x.cols;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let c = 0; c < x.cols; c++) y[r * x.cols + c] = (x.data[r * x.cols + c]! - mean) * inv * gamma[c]! + beta[c]!;
  }
  return { rows: x.rows, cols: x.cols, data: y };
}

/** erf to ~1e-15 (Abramowitz–Stegun is too coarse for a reference): series for small |x|, continued fraction beyond. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= -(ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) evaluated bottom-up.
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const gelu = (v: number): number => 0.5 * v * (1 + erf(v / Math.SQRT2));

/**
 * last_hidden_state for one padded batch: returns, per sequence, a [sequence × hidden] row-major Float64Array.
 * inputIds and attentionMask are rectangular (same length per row), like the ONNX inputs.
 */
export function referenceForward(
  cfg: EncoderConfig,
  tensors: ReadonlyMap<string, TensorEntry>,
  inputIds: readonly (readonly number[])[],
  attentionMask: readonly (readonly number[])[],
): Float64Array[] {
  const w = new CheckpointWeights(tensors);
  const H = cfg.hiddenSize;
  const heads = cfg.numHeads;
  const d = H / heads;
  const word = param(w, 'embeddings.word_embeddings.weight', [cfg.vocabSize, H]);
  const pos = param(w, 'embeddings.position_embeddings.weight', [cfg.maxPositions, H]);
  const type0 = w.has('embeddings.token_type_embeddings.weight')
    ? param(w, 'embeddings.token_type_embeddings.weight', [cfg.typeVocabSize, H]).subarray(0, H)
    : new Float64Array(H);
  const ln = (base: string) => {
    const p = w.layerNorm(base, H);
    return [Float64Array.from(p.weight.data), Float64Array.from(p.bias.data)] as const;
  };
  const lin = (base: string, inSize: number, outSize: number) =>
    [param(w, `${base}.weight`, [outSize, inSize]), param(w, `${base}.bias`, [outSize])] as const;
  const embLn = ln('embeddings.LayerNorm');
  const layers = Array.from({ length: cfg.numLayers }, (_, i) => {
    const p = `encoder.layer.${i}`;
    return {
      q: lin(`${p}.attention.self.query`, H, H), k: lin(`${p}.attention.self.key`, H, H), v: lin(`${p}.attention.self.value`, H, H),
      o: lin(`${p}.attention.output.dense`, H, H), ln1: ln(`${p}.attention.output.LayerNorm`),
      up: lin(`${p}.intermediate.dense`, H, cfg.intermediateSize), down: lin(`${p}.output.dense`, cfg.intermediateSize, H),
      ln2: ln(`${p}.output.LayerNorm`),
    };
  });

  return inputIds.map((ids, b) => {
    const mask = attentionMask[b]!;
    const S = ids.length;
    // Position ids as in HF: RoBERTa counts non-pad tokens from padding_idx + 1, BERT counts from 0.
    let running = 0;
    const positions = ids.map((id, t) => {
      if (!usesPaddingOffsetPositions(cfg)) return t;
      if (id === cfg.padTokenId) return cfg.padTokenId;
      running += 1;
      return running + cfg.padTokenId;
    });
    let x: Matrix = { rows: S, cols: H, data: new Float64Array(S * H) };
    for (let t = 0; t < S; t++) {
      for (let c = 0; c < H; c++) x.data[t * H + c] = word[ids[t]! * H + c]! + pos[positions[t]! * H + c]! + type0[c]!;
    }
    x = layerNorm(x, embLn[0], embLn[1], cfg.layerNormEps);
    for (const L of layers) {
      const q = linear(x, L.q[0], L.q[1], H);
      const k = linear(x, L.k[0], L.k[1], H);
      const v = linear(x, L.v[0], L.v[1], H);
      const ctx: Matrix = { rows: S, cols: H, data: new Float64Array(S * H) };
      const scores = new Float64Array(S);
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < S; i++) {
          let max = -Infinity;
          for (let j = 0; j < S; j++) {
            let s = 0;
            for (let e = 0; e < d; e++) s += q.data[i * H + h * d + e]! * k.data[j * H + h * d + e]!;
            s = s / Math.sqrt(d) + (mask[j] ? 0 : -3.4028234663852886e38);
            scores[j] = s;
            if (s > max) max = s;
          }
          let sum = 0;
          for (let j = 0; j < S; j++) sum += (scores[j] = Math.exp(scores[j]! - max));
          for (let j = 0; j < S; j++) {
            const p = scores[j]! / sum;
            for (let e = 0; e < d; e++) ctx.data[i * H + h * d + e]! += p * v.data[j * H + h * d + e]!;
          }
        }
      }
      const attn = linear(ctx, L.o[0], L.o[1], H);
      for (let i = 0; i < attn.data.length; i++) attn.data[i]! += x.data[i]!;
      x = layerNorm(attn, L.ln1[0], L.ln1[1], cfg.layerNormEps);
      const up = linear(x, L.up[0], L.up[1], cfg.intermediateSize);
      for (let i = 0; i < up.data.length; i++) up.data[i] = gelu(up.data[i]!);
      const down = linear(up, L.down[0], L.down[1], H);
      for (let i = 0; i < down.data.length; i++) down.data[i]! += x.data[i]!;
      x = layerNorm(down, L.ln2[0], L.ln2[1], cfg.layerNormEps);
    }
    return x.data;
  });
}
