// int8 weight layouts for the quantized encoder graph: per-output-channel symmetric int8 for
// DynamicQuantizeMatMul, and 8-bit blocks for MatMulNBits. Both keep |q| ≤ 127 around zero (no zero-point
// offset in the weights), so the rounding error is at most half a step of each channel's or block's scale.

/**
 * How int8 MatMuls run (activations are quantized to uint8 at run time in all of them):
 *   dqmatmul    — DynamicQuantizeMatMul, int8 weights in ±63. x86 CPUs without VNNI multiply u8 × s8 pairs
 *                 into saturating int16 sums; the halved weight range keeps every sum exact (ONNX Runtime's
 *                 own quantizer calls this reduce_range). Fastest correct choice measured on AVX2.
 *   dqmatmul-u8 — DynamicQuantizeMatMul, weights ±127 stored as uint8 with zero point 128 (u8 × u8 kernel).
 *   nbits       — MatMulNBits, 8 bits, 256-value blocks, accuracy level 4.
 */
export const INT8_KERNELS = ['dqmatmul', 'dqmatmul-u8', 'nbits'] as const;
export type Int8Kernel = (typeof INT8_KERNELS)[number];

/** Per-column symmetric int8: w[k, n] ≈ q[k, n] · scale[n], |q| ≤ limit. `w` is [rows=K, cols=N] row-major. */
export function quantizeColumns(w: Float32Array, rows: number, cols: number, limit = 127): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(w[r * cols + c]!);
      if (a > scale[c]!) scale[c] = a;
    }
  }
  for (let c = 0; c < cols; c++) scale[c] = scale[c]! > 0 ? scale[c]! / limit : 1;
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) q[r * cols + c] = Math.max(-limit, Math.min(limit, Math.round(w[r * cols + c]! / scale[c]!)));
  }
  return { q, scale };
}

/**
 * Block length along K for MatMulNBits (ONNX Runtime accepts 16…256): 256, or less for a short K. Symmetric
 * scales per 256-value block are at least as fine as per-channel ones.
 */
export function nbitsBlockSize(k: number): number {
  let b = 256;
  while (b > 16 && b > k) b /= 2;
  return b;
}

/**
 * MatMulNBits layout of W [K, N] (row-major, in × out) at 8 bits: per output column n and K-block b,
 * symmetric scale = max|w| / 127 and bytes q + 128 (the op's default zero point), padded blocks hold 128.
 */
export function quantizeNbits8(w: Float32Array, k: number, n: number, block: number): { b: Uint8Array; scale: Float32Array } {
  const blocks = Math.ceil(k / block);
  const b = new Uint8Array(n * blocks * block).fill(128);
  const scale = new Float32Array(n * blocks);
  for (let c = 0; c < n; c++) {
    for (let j = 0; j < blocks; j++) {
      let max = 0;
      const end = Math.min(k, (j + 1) * block);
      for (let r = j * block; r < end; r++) max = Math.max(max, Math.abs(w[r * n + c]!));
      const s = max > 0 ? max / 127 : 1;
      scale[c * blocks + j] = s;
      const base = (c * blocks + j) * block;
      for (let r = j * block; r < end; r++) b[base + r - j * block] = 128 + Math.max(-127, Math.min(127, Math.round(w[r * n + c]! / s)));
    }
  }
  return { b, scale };
}
