// Conversions between float32 and the 16-bit float formats checkpoints are stored in (IEEE half, bfloat16),
// and widening a stored tensor to Float32Array.
import { elementCount, SafetensorsError, type TensorEntry } from './safetensors-format.ts';

/** IEEE half → float (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float → IEEE half, round to nearest even. */
export function floatToHalf(value: number): number {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half += 1; // a carry into the exponent is still correct
  return sign | half;
}

/** float → bfloat16, round to nearest even (NaN kept NaN). */
export function floatToBfloat16(value: number): number {
  const u = new Uint32Array(Float32Array.of(value).buffer)[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

let halfTable: Float32Array | undefined;
/** All 65536 half values widened once: converting a large F16 checkpoint is then a table lookup per value. */
function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

/** `n` 16-bit values of `bytes`; a view at an odd offset (possible inside a file buffer) is copied first. */
function uint16Values(bytes: Uint8Array, n: number): Uint16Array {
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return new Uint16Array(aligned.buffer, aligned.byteOffset, n);
}

/** Any floating tensor as float32 values (F16/BF16 widened exactly). */
export function toFloat32(t: TensorEntry): Float32Array {
  const n = elementCount(t.shape);
  const bytes = t.bytes;
  switch (t.dtype) {
    case 'F32': {
      // Little-endian hosts (all ONNX Runtime CPU targets) can copy the bytes as they are.
      const copy = new Uint8Array(n * 4);
      copy.set(bytes.subarray(0, n * 4));
      return new Float32Array(copy.buffer);
    }
    case 'F16': {
      const table = halfToFloatTable();
      const u = uint16Values(bytes, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[u[i]!]!;
      return out;
    }
    case 'BF16': {
      const u = uint16Values(bytes, n);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = u[i]! << 16;
      return out;
    }
    default: throw new SafetensorsError(`tensor of dtype ${t.dtype} is not floating point`);
  }
}
