// Writing safetensors files (F32/F16/BF16) in tensor-name order, so equal inputs give equal bytes: whole into
// memory (writeSafetensors) or tensor by tensor to a file descriptor (writeSafetensorsToFd).
import { writeSync } from 'node:fs';
import { floatToBfloat16, floatToHalf } from './dtype-conversion.ts';
import { DTYPE_BYTES, elementCount, SafetensorsError } from './safetensors-format.ts';

export interface TensorToWrite {
  readonly dtype: 'F32' | 'F16' | 'BF16';
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Header bytes (padded with spaces to 8 bytes, as the reference implementation does) and tensor order. */
function headerFor(tensors: ReadonlyMap<string, TensorToWrite>,
  metadata: Readonly<Record<string, string>>): { names: string[]; header: Uint8Array; dataSize: number } {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    // Sized from the shape, so `data` may be a getter that generates the values only when written.
    const size = elementCount(t.shape) * DTYPE_BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  return { names, header: new TextEncoder().encode(json), dataSize: offset };
}

function tensorBytes(t: TensorToWrite): Uint8Array {
  const data = t.data;
  if (data.length !== elementCount(t.shape)) throw new SafetensorsError(`${data.length} values for shape [${t.shape.join(', ')}]`);
  const out = new Uint8Array(data.length * DTYPE_BYTES[t.dtype]);
  if (t.dtype === 'F32') {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return out;
  }
  const u = new Uint16Array(out.buffer);
  const conv = t.dtype === 'F16' ? floatToHalf : floatToBfloat16;
  for (let i = 0; i < data.length; i++) u[i] = conv(data[i]!);
  return out;
}

/** Writes tensors in name order, so equal inputs give equal bytes. */
export function writeSafetensors(tensors: ReadonlyMap<string, TensorToWrite>, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const { names, header, dataSize } = headerFor(tensors, metadata);
  const out = new Uint8Array(8 + header.length + dataSize);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  let pos = 8 + header.length;
  for (const name of names) {
    const b = tensorBytes(tensors.get(name)!);
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

/**
 * Same bytes as writeSafetensors, written tensor by tensor to a file descriptor: for checkpoints larger than
 * a comfortable buffer. `tensors` may produce data lazily; each is converted and written, then dropped.
 */
export function writeSafetensorsToFd(fd: number, tensors: ReadonlyMap<string, TensorToWrite>,
  metadata: Readonly<Record<string, string>> = {}): void {
  const { names, header } = headerFor(tensors, metadata);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeSync(fd, len);
  writeSync(fd, header);
  for (const name of names) {
    const b = tensorBytes(tensors.get(name)!);
    for (let off = 0; off < b.length; off += 1 << 30) writeSync(fd, b, off, Math.min(1 << 30, b.length - off));
  }
}
