// Reading safetensors files: a whole file already in memory (parseSafetensors), or a file on disk read by
// offset one tensor at a time (openSafetensorsFile), so converting a model never holds the whole file.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SafetensorsError, type SafetensorsFile, type TensorEntry } from './safetensors-format.ts';
import { dataStartOf, parseHeader } from './safetensors-header.ts';

/** Parses a whole safetensors file held in memory; tensors are views, nothing is copied. */
export function parseSafetensors(buf: Uint8Array, label = 'safetensors file'): SafetensorsFile {
  if (buf.length < 8) throw new SafetensorsError(`${label}: too short to be safetensors`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dataStart = dataStartOf(Number(dv.getBigUint64(0, true)), buf.length, label);
  const { entries, metadata } = parseHeader(buf.subarray(8, dataStart), buf.length - dataStart, label);
  const tensors = new Map<string, TensorEntry>();
  for (const e of entries) {
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, bytes: buf.subarray(dataStart + e.start, dataStart + e.end) });
  }
  return { tensors, metadata };
}

/** A safetensors file on disk whose tensors are read on access, so only the tensor in hand is in memory. */
export interface OpenSafetensors extends SafetensorsFile {
  close(): void;
}

function readFully(fd: number, length: number, position: number, label: string): Uint8Array {
  const out = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    // One read() is capped near 2 GB; large tensors take several.
    const n = readSync(fd, out, done, Math.min(length - done, 1 << 30), position + done);
    if (n === 0) throw new SafetensorsError(`${label}: file ended early`);
    done += n;
  }
  return out;
}

/**
 * Opens a safetensors file for streaming: the header is parsed now, each `bytes` access reads that tensor
 * by offset from the file (a fresh copy each time; callers convert it and let it go).
 */
export function openSafetensorsFile(path: string): OpenSafetensors {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw new SafetensorsError(`${path}: too short to be safetensors`);
    const headerLen = Number(Buffer.from(readFully(fd, 8, 0, path)).readBigUInt64LE(0));
    const dataStart = dataStartOf(headerLen, size, path);
    const { entries, metadata } = parseHeader(readFully(fd, headerLen, 8, path), size - dataStart, path);
    let closed = false;
    const tensors = new Map<string, TensorEntry>();
    for (const e of entries) {
      tensors.set(e.name, {
        dtype: e.dtype,
        shape: e.shape,
        get bytes(): Uint8Array {
          if (closed) throw new SafetensorsError(`${path}: read of ${e.name} after close`);
          return readFully(fd, e.end - e.start, dataStart + e.start, path);
        },
      });
    }
    return {
      tensors,
      metadata,
      close() {
        if (!closed) {
          closed = true;
          closeSync(fd);
        }
      },
    };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
