// sentence-transformers pooling over one sequence of token vectors, and L2 normalization.
import type { PoolingMode } from './types.ts';

/**
 * hidden: [sequence × dims] token vectors of one input (a view into the batch output); length: real tokens
 * (the rest is padding); start: first token that counts (prompt tokens are skipped when include_prompt=false;
 * CLS pooling ignores it, as sentence-transformers does).
 */
export function pool(mode: PoolingMode, hidden: Float32Array, dims: number, length: number, start = 0): Float32Array {
  const out = new Float32Array(dims);
  if (mode === 'cls') {
    out.set(hidden.subarray(0, dims));
    return out;
  }
  if (mode === 'lasttoken') {
    out.set(hidden.subarray((length - 1) * dims, length * dims));
    return out;
  }
  const from = Math.min(start, length - 1);
  if (mode === 'mean') {
    const acc = new Float64Array(dims);
    for (let t = from; t < length; t++) for (let d = 0; d < dims; d++) acc[d]! += hidden[t * dims + d]!;
    for (let d = 0; d < dims; d++) out[d] = acc[d]! / (length - from);
    return out;
  }
  out.fill(-Infinity);
  for (let t = from; t < length; t++) for (let d = 0; d < dims; d++) out[d] = Math.max(out[d]!, hidden[t * dims + d]!);
  return out;
}

/** Scales v to unit L2 norm in place (a zero vector stays zero). */
export function l2Normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}
