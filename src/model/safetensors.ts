// safetensors: an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
// then the raw little-endian tensor bytes. Reads F32/F16/BF16 (to Float32Array) and writes F32/F16/BF16.
// Checkpoint files are read by offset one tensor at a time (openSafetensorsFile), so converting a model
// never holds the whole file in memory.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isPlainShardName } from './shard-index.ts';

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

interface HeaderEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Byte range relative to the start of the data section. */
  readonly start: number;
  readonly end: number;
}

/** Validates the JSON header against the data section size; every tensor must lie inside it. */
function parseHeader(headerBytes: Uint8Array, dataSize: number, label: string): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes)) as Record<string, unknown>;
  } catch (err) {
    throw new SafetensorsError(`${label}: header is not JSON`, { cause: err });
  }
  const entries: HeaderEntry[] = [];
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
    if (end - start !== count * BYTES[dtype] || end > dataSize || start < 0) {
      throw new SafetensorsError(`${label}: tensor ${name} offsets [${start}, ${end}] do not match shape [${shape.join(', ')}] ${dtype}`);
    }
    entries.push({ name, dtype, shape, start, end });
  }
  return { entries, metadata };
}

const MAX_HEADER = 100_000_000;

/** Parses a whole safetensors file held in memory; tensors are views, nothing is copied. */
export function parseSafetensors(buf: Uint8Array, label = 'safetensors file'): SafetensorsFile {
  if (buf.length < 8) throw new SafetensorsError(`${label}: too short to be safetensors`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen > buf.length - 8 || headerLen > MAX_HEADER) throw new SafetensorsError(`${label}: header length ${headerLen} exceeds the file`);
  const dataStart = 8 + headerLen;
  const { entries, metadata } = parseHeader(buf.subarray(8, dataStart), buf.length - dataStart, label);
  const tensors = new Map<string, TensorEntry>();
  for (const e of entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, bytes: buf.subarray(dataStart + e.start, dataStart + e.end) });
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
    if (headerLen > size - 8 || headerLen > MAX_HEADER) throw new SafetensorsError(`${path}: header length ${headerLen} exceeds the file`);
    const dataStart = 8 + headerLen;
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

export const SINGLE_FILE = 'model.safetensors';
export const SHARD_INDEX = 'model.safetensors.index.json';

/**
 * The checkpoint in `dir`: model.safetensors, or the shards a model.safetensors.index.json names (its
 * weight_map says which shard holds each tensor). All files stay open until close().
 */
export function openCheckpointTensors(dir: string): OpenSafetensors & { readonly files: readonly string[] } {
  const single = join(dir, SINGLE_FILE);
  if (existsSync(single)) return { ...openSafetensorsFile(single), files: [SINGLE_FILE] };
  const indexPath = join(dir, SHARD_INDEX);
  if (!existsSync(indexPath)) throw new SafetensorsError(`${dir} has neither ${SINGLE_FILE} nor ${SHARD_INDEX}`);
  let index: { weight_map?: Record<string, string> };
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8')) as typeof index;
  } catch (err) {
    throw new SafetensorsError(`${indexPath} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const weightMap = index.weight_map ?? {};
  const shardNames = [...new Set(Object.values(weightMap))].sort();
  if (!shardNames.length) throw new SafetensorsError(`${indexPath} has an empty weight_map`);
  const bad = shardNames.filter((f) => typeof f !== 'string' || !isPlainShardName(f));
  if (bad.length) throw new SafetensorsError(`${indexPath} names shard files that are not plain *.safetensors names in the folder: ${bad.join(', ')}`);
  const opened: OpenSafetensors[] = [];
  const closeAll = () => { for (const o of opened) o.close(); };
  try {
    const tensors = new Map<string, TensorEntry>();
    for (const f of shardNames) {
      const shard = openSafetensorsFile(join(dir, f));
      opened.push(shard);
      for (const [name, t] of shard.tensors) if (weightMap[name] === f) tensors.set(name, t);
    }
    const missing = Object.keys(weightMap).filter((n) => !tensors.has(n));
    if (missing.length) throw new SafetensorsError(`${indexPath}: ${missing.length} tensors not found in their shard (first: ${missing[0]})`);
    return { tensors, metadata: opened[0]!.metadata, files: [SHARD_INDEX, ...shardNames], close: closeAll };
  } catch (err) {
    closeAll();
    throw err;
  }
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

let halfTable: Float32Array | undefined;
/** All 65536 half values widened once: converting a large F16 checkpoint is then a table lookup per value. */
function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

/** Any floating tensor as float32 values (F16/BF16 widened exactly). */
export function toFloat32(t: TensorEntry): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
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
      const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
      const u = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[u[i]!]!;
      return out;
    }
    case 'BF16': {
      const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
      const u = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = u[i]! << 16;
      return out;
    }
    default: throw new SafetensorsError(`tensor of dtype ${t.dtype} is not floating point`);
  }
}

export interface TensorToWrite {
  readonly dtype: 'F32' | 'F16' | 'BF16';
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** float → bfloat16, round to nearest even (NaN kept NaN). */
export function floatToBfloat16(value: number): number {
  const u = new Uint32Array(Float32Array.of(value).buffer)[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Header bytes (padded with spaces to 8 bytes, as the reference implementation does) and tensor order. */
function headerFor(tensors: ReadonlyMap<string, TensorToWrite>, metadata: Readonly<Record<string, string>>): { names: string[]; header: Uint8Array; dataSize: number } {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    // Sized from the shape, so `data` may be a getter that generates the values only when written.
    const size = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  return { names, header: new TextEncoder().encode(json), dataSize: offset };
}

function tensorBytes(t: TensorToWrite): Uint8Array {
  const data = t.data;
  if (data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new SafetensorsError(`${data.length} values for shape [${t.shape.join(', ')}]`);
  const out = new Uint8Array(data.length * BYTES[t.dtype]);
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
export function writeSafetensorsToFd(fd: number, tensors: ReadonlyMap<string, TensorToWrite>, metadata: Readonly<Record<string, string>> = {}): void {
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
