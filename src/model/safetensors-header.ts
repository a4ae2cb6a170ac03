// Reading the safetensors header: its length prefix and the JSON that places every tensor in the data
// section. Shared by the in-memory parser and the on-disk reader, which differ only in where bytes come from.
import { DTYPE_BYTES, elementCount, SAFETENSORS_DTYPES, SafetensorsError, type SafetensorsDtype } from './safetensors-format.ts';

export interface HeaderEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Byte range relative to the start of the data section. */
  readonly start: number;
  readonly end: number;
}

export interface ParsedHeader {
  readonly entries: readonly HeaderEntry[];
  readonly metadata: Readonly<Record<string, string>>;
}

/** A corrupt length prefix must not make the reader allocate gigabytes before failing. */
const MAX_HEADER = 100_000_000;

/** Where the data section starts, once the length prefix is known to fit in a file of `fileSize` bytes. */
export function dataStartOf(headerLen: number, fileSize: number, label: string): number {
  if (headerLen > fileSize - 8 || headerLen > MAX_HEADER) {
    throw new SafetensorsError(`${label}: header length ${headerLen} exceeds the file`);
  }
  return 8 + headerLen;
}

/** Validates the JSON header against the data section size; every tensor must lie inside it. */
export function parseHeader(headerBytes: Uint8Array, dataSize: number, label: string): ParsedHeader {
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
    if (end - start !== elementCount(shape) * DTYPE_BYTES[dtype] || end > dataSize || start < 0) {
      throw new SafetensorsError(`${label}: tensor ${name} offsets [${start}, ${end}] do not match shape [${shape.join(', ')}] ${dtype}`);
    }
    entries.push({ name, dtype, shape, start, end });
  }
  return { entries, metadata };
}
