// Writes an ONNX model to disk with its large initializers streamed one at a time, never the whole model in
// memory. The graph (nodes, small constants) is encoded first; each large tensor follows as one more
// `graph` field holding only that initializer — protobuf merges repeated occurrences of a message field, so
// readers see one graph. Above the 2 GB protobuf limit the tensors go to external data instead
// (`<model>.onnx_data`, page-aligned so ONNX Runtime can map it), referenced by location/offset/length.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { ONNX_DTYPE, type OnnxDtype } from './onnx-proto.ts';
import { ProtoWriter } from './protobuf-writer.ts';

export const ELEMENT_BYTES: Readonly<Record<OnnxDtype, number>> = { float: 4, uint8: 1, int8: 1, int32: 4, int64: 8, bool: 1, float16: 2 };

/** An initializer whose bytes are computed only when it is written (e.g. read + transposed + quantized). */
export interface LazyTensor {
  readonly name: string;
  readonly dtype: OnnxDtype;
  readonly dims: readonly number[];
  /** Little-endian element bytes; called once, at write time. */
  produce(): Uint8Array;
}

export function tensorByteLength(t: Pick<LazyTensor, 'dtype' | 'dims'>): number {
  return t.dims.reduce((a, b) => a * b, 1) * ELEMENT_BYTES[t.dtype];
}

/** protobuf's hard limit for one message; ONNX files above it must use external data. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;
const PAGE = 4096;
/** Tensors smaller than this stay inline even in external mode (ONNX Runtime's own convention). */
const EXTERNAL_MIN_BYTES = 1024;

export interface WriteOnnxOptions {
  /** Model size above which initializers go to external data (default: just under the protobuf limit). */
  readonly externalDataThreshold?: number;
}

export interface WrittenOnnx {
  readonly path: string;
  /** Bytes of the .onnx file. */
  readonly bytes: number;
  /** File name of the external data next to the model, when used. */
  readonly externalData?: string;
  readonly externalBytes?: number;
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** TensorProto without its data: dims, data_type, name (+ where the data lives when external). */
function tensorHeader(t: LazyTensor, external?: { location: string; offset: number; length: number }): Uint8Array {
  const w = new ProtoWriter().packedInts(1, t.dims).int(2, ONNX_DTYPE[t.dtype]).string(8, t.name);
  if (external) {
    for (const [k, v] of [
      ['location', external.location], ['offset', String(external.offset)], ['length', String(external.length)],
    ] as const) {
      w.message(13, new ProtoWriter().string(1, k).string(2, v));
    }
    w.int(14, 1); // data_location = EXTERNAL
  }
  return w.finish();
}

class FileSink {
  private readonly fd: number;
  written = 0;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }
  write(bytes: Uint8Array | readonly number[]): void {
    const b = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
    for (let off = 0; off < b.length;) off += writeSync(this.fd, b, off, Math.min(b.length - off, 1 << 30));
    this.written += b.length;
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** Writes `graphModel` (an encoded ModelProto) plus `tensors` to `path` atomically (temp files, then rename). */
export function writeOnnxFile(path: string, graphModel: Uint8Array, tensors: readonly LazyTensor[],
  opts: WriteOnnxOptions = {}): WrittenOnnx {
  const threshold = Math.min(opts.externalDataThreshold ?? PROTOBUF_LIMIT - (64 << 20), PROTOBUF_LIMIT - (64 << 20));
  const total = graphModel.length + tensors.reduce((s, t) => s + tensorByteLength(t) + 256, 0);
  const external = total > threshold;
  const dataName = `${basename(path)}_data`;
  const dataPath = path.slice(0, path.length - basename(path).length) + dataName;
  const model = new FileSink(`${path}.part`);
  const data = external ? new FileSink(`${dataPath}.part`) : undefined;
  try {
    model.write(graphModel);
    for (const t of tensors) {
      const length = tensorByteLength(t);
      const raw = t.produce();
      if (raw.length !== length) throw new Error(`initializer ${t.name}: ${raw.length} bytes for ${t.dtype} [${t.dims.join(', ')}]`);
      let tensor: Uint8Array[];
      if (data && length >= EXTERNAL_MIN_BYTES) {
        const pad = (PAGE - (data.written % PAGE)) % PAGE;
        if (pad) data.write(new Uint8Array(pad));
        const offset = data.written;
        data.write(raw);
        tensor = [tensorHeader(t, { location: dataName, offset, length })];
      } else {
        tensor = [tensorHeader(t), Uint8Array.from([0x4a, ...varint(length)]), raw]; // field 9 raw_data
      }
      const tensorLen = tensor.reduce((s, b) => s + b.length, 0);
      const graphLen = 1 + varint(tensorLen).length + tensorLen;
      // ModelProto.graph (7) { GraphProto.initializer (5) { tensor } }
      model.write([0x3a, ...varint(graphLen), 0x2a, ...varint(tensorLen)]);
      for (const b of tensor) model.write(b);
    }
    if (model.written > PROTOBUF_LIMIT) throw new Error(`${path} would be ${model.written} bytes, over the protobuf limit`);
  } catch (err) {
    model.close();
    data?.close();
    rmSync(model.path, { force: true });
    if (data) rmSync(data.path, { force: true });
    throw err;
  }
  model.close();
  data?.close();
  if (data) renameSync(data.path, dataPath);
  else rmSync(dataPath, { force: true }); // a stale data file from an earlier import would be hashed and misread
  renameSync(model.path, path);
  return { path, bytes: model.written, ...(data ? { externalData: dataName, externalBytes: data.written } : {}) };
}
