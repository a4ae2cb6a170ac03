// Vectors as remotes send them (JSON number arrays, or OpenAI's base64 float32) checked and made unit
// length. Normalizing is decided per vector from its norm, not assumed from the remote's kind: an
// already-unit vector is kept bit for bit, so a remote embedsync's vectors equal its local encode exactly.

/** |norm - 1| below this counts as normalized (float32 rounding leaves ~1e-7). */
const UNIT_TOLERANCE = 1e-5;

export class VectorFormatError extends Error {
  override name = 'VectorFormatError';
}

/** A JSON number array or a base64 string of little-endian float32 values. */
export function decodeVector(value: unknown, where: string): Float32Array {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length === 0 || bytes.length % 4 !== 0) {
      throw new VectorFormatError(`${where}: base64 embedding is not a whole number of float32 values`);
    }
    const out = new Float32Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
    return checkFinite(out, where);
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new VectorFormatError(`${where}: expected an embedding (array of numbers or base64)`);
  }
  const out = new Float32Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const x = value[i] as unknown;
    if (typeof x !== 'number') throw new VectorFormatError(`${where}[${i}] is not a number`);
    out[i] = x;
  }
  return checkFinite(out, where);
}

function checkFinite(v: Float32Array, where: string): Float32Array {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) throw new VectorFormatError(`${where}[${i}] is not finite`);
  return v;
}

/** The vector itself when its norm is 1 (within float32 rounding), else a unit-length copy. */
export function ensureUnit(v: Float32Array): { vector: Float32Array; normalized: boolean } {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum);
  if (Math.abs(norm - 1) <= UNIT_TOLERANCE) return { vector: v, normalized: false };
  if (norm === 0) throw new VectorFormatError('the remote returned an all-zero vector, which has no direction');
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / norm;
  return { vector: out, normalized: true };
}
