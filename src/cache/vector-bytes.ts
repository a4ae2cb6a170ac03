// Vectors are cached as their float32 bytes (little-endian), never as JSON numbers, so a cached answer is
// bit-identical to a fresh one.
import { endianness } from 'node:os';

const BIG_ENDIAN = endianness() === 'BE';

export function vectorToBytes(vector: Float32Array): Buffer {
  const bytes = Buffer.from(vector.buffer.slice(vector.byteOffset, vector.byteOffset + vector.byteLength));
  return BIG_ENDIAN ? bytes.swap32() : bytes;
}

/** undefined when the byte count does not fit `dimensions` (a foreign or damaged entry). */
export function bytesToVector(bytes: Buffer, dimensions?: number): Float32Array | undefined {
  if (bytes.length % 4 !== 0 || (dimensions !== undefined && bytes.length !== dimensions * 4)) return undefined;
  // Copy: a Buffer from a socket may sit at an offset a Float32Array view cannot start at.
  const copy = Buffer.from(bytes);
  if (BIG_ENDIAN) copy.swap32();
  return new Float32Array(copy.buffer, copy.byteOffset, copy.length / 4);
}
