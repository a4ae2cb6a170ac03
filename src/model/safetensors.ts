// safetensors: an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
// then the raw little-endian tensor bytes. Reads F32/F16/BF16 (to Float32Array) and writes F32/F16.

export const SAFETENSORS_DTYPES = ['F32', 'F16', 'BF16', 'I64', 'I32'] as const;
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];
const BYTES: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };

export interface TensorEntry {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Raw little-endian bytes of the tensor (a view into the file buffer). */
  readonly bytes: Uint8Array;
}

export interface SafetensorsFile {
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Readonly<Record<string, string>>;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** Parses a whole safetensors file held in memory; tensors are views, nothing is copied. */
export function parseSafetensors(buf: Uint8Array, label = 'safetensors file'): SafetensorsFile {
  if (buf.length < 8) throw new SafetensorsError(`${label}: too short to be safetensors`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen > buf.length - 8 || headerLen > 100_000_000) throw new SafetensorsError(`${label}: header length ${headerLen} exceeds the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + headerLen))) as Record<string, unknown>;
  } catch (err) {
    throw new SafetensorsError(`${label}: header is not JSON`, { cause: err });
  }
  const dataStart = 8 + headerLen;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (!SAFETENSORS_DTYPES.includes(e.dtype as SafetensorsDtype)) {
      throw new SafetensorsError(`${label}: tensor ${name} has unsupported dtype ${String(e.dtype)}`);
    }
    const dtype = e.dtype as SafetensorsDtype;
    const shape = e.shape ?? [];
    const [start, end] = e.data_offsets ?? [0, -1];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - start !== count * BYTES[dtype] || dataStart + end > buf.length || start < 0) {
      throw new SafetensorsError(`${label}: tensor ${name} offsets [${start}, ${end}] do not match shape [${shape.join(', ')}] ${dtype}`);
    }
    tensors.set(name, { dtype, shape, bytes: buf.subarray(dataStart + start, dataStart + end) });
  }
  return { tensors, metadata };
}

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

/** Any floating tensor as float32 values (F16/BF16 widened exactly). */
export function toFloat32(t: TensorEntry): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case 'F32': for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true); break;
    case 'F16': for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true)); break;
    case 'BF16': {
      const u = new Uint32Array(1);
      const f = new Float32Array(u.buffer);
      for (let i = 0; i < n; i++) {
        u[0] = dv.getUint16(i * 2, true) << 16;
        out[i] = f[0]!;
      }
      break;
    }
    default: throw new SafetensorsError(`tensor of dtype ${t.dtype} is not floating point`);
  }
  return out;
}

export interface TensorToWrite {
  readonly dtype: 'F32' | 'F16';
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * Writes tensors in name order (so equal inputs give equal bytes), header padded with spaces to 8 bytes
 * as the reference implementation does.
 */
export function writeSafetensors(tensors: ReadonlyMap<string, TensorToWrite>, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const size = t.data.length * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    for (let i = 0; i < t.data.length; i++) {
      if (t.dtype === 'F32') { dv.setFloat32(pos, t.data[i]!, true); pos += 4; }
      else { dv.setUint16(pos, floatToHalf(t.data[i]!), true); pos += 2; }
    }
  }
  return out;
}
