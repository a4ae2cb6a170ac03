// pgvector values in Postgres' binary wire format, so the write path never turns floats into text and back
// (that conversion is what bounds a text-format write at a few thousand 768-dim rows per second).
//   vector: int16 dim, int16 unused, dim x float32, all big-endian (pgvector's vector_recv).
//   array:  int32 ndim, int32 has-nulls, uint32 element oid, then per dimension int32 length, int32 lower
//           bound; then per element int32 byte length (-1 for NULL) and the element's bytes (array_recv).

export function encodeVector(v: Float32Array): Buffer {
  const buf = Buffer.allocUnsafe(4 + v.length * 4);
  writeVector(buf, 0, v);
  return buf;
}

function writeVector(buf: Buffer, offset: number, v: Float32Array): number {
  buf.writeInt16BE(v.length, offset);
  buf.writeInt16BE(0, offset + 2);
  const o = offset + 4;
  const end = o + v.length * 4;
  // Copy the floats as they are in memory (little-endian on every platform Node runs on), then byte-swap
  // in place: much faster than one writeFloatBE per element.
  Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(buf, o);
  buf.subarray(o, end).swap32();
  return end;
}

/** A one-dimensional vector[] in binary array format; null elements become SQL NULL. */
export function encodeVectorArray(vectors: readonly (Float32Array | null)[], vectorOid: number): Buffer {
  if (vectors.length === 0) {
    // Zero dimensions is how Postgres spells an empty array.
    const empty = Buffer.alloc(12);
    empty.writeUInt32BE(vectorOid, 8);
    return empty;
  }
  let size = 20;
  for (const v of vectors) size += 4 + (v ? 4 + v.length * 4 : 0);
  const buf = Buffer.allocUnsafe(size);
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(vectors.some((v) => v === null) ? 1 : 0, 4);
  buf.writeUInt32BE(vectorOid, 8);
  buf.writeInt32BE(vectors.length, 12);
  buf.writeInt32BE(1, 16);
  let o = 20;
  for (const v of vectors) {
    if (v === null) {
      buf.writeInt32BE(-1, o);
      o += 4;
      continue;
    }
    buf.writeInt32BE(4 + v.length * 4, o);
    o = writeVector(buf, o + 4, v);
  }
  return buf;
}
