// A small builder for ONNX graphs: names values, collects initializers and nodes in topological order
// (callers add nodes in evaluation order), and encodes the model.
import {
  encodeOnnxModel, type AttributeValue, type OnnxDtype, type OnnxNode, type OnnxTensor, type OnnxValueInfo,
} from './onnx-proto.ts';

export type Attrs = Readonly<Record<string, AttributeValue>>;

export const attr = {
  float: (value: number): AttributeValue => ({ kind: 'float', value }),
  int: (value: number): AttributeValue => ({ kind: 'int', value }),
  string: (value: string): AttributeValue => ({ kind: 'string', value }),
  floats: (value: readonly number[]): AttributeValue => ({ kind: 'floats', value }),
  ints: (value: readonly number[]): AttributeValue => ({ kind: 'ints', value }),
} as const;

export function float32Bytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class GraphBuilder {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxTensor[] = [];
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly names = new Set<string>();
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  constructor(private readonly name: string) {}

  private unique(base: string): string {
    let n = base;
    while (this.names.has(n)) n = `${base}_${++this.counter}`;
    this.names.add(n);
    return n;
  }

  input(name: string, dtype: OnnxDtype, shape: readonly (number | string)[]): string {
    this.inputs.push({ name: this.unique(name), dtype, shape });
    return name;
  }

  output(value: string, dtype: OnnxDtype, shape: readonly (number | string)[]): void {
    this.outputs.push({ name: value, dtype, shape });
  }

  initializer(name: string, dtype: OnnxDtype, dims: readonly number[], raw: Uint8Array): string {
    const n = this.unique(name);
    this.initializers.push({ name: n, dtype, dims, raw });
    return n;
  }

  floatTensor(name: string, dims: readonly number[], data: Float32Array): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) throw new Error(`${name}: ${data.length} values for shape [${dims.join(', ')}]`);
    return this.initializer(name, 'float', dims, float32Bytes(data));
  }

  /** A float scalar (rank 0) or an int64 vector constant; equal constants share one initializer. */
  constFloat(value: number): string {
    const key = `f:${Math.fround(value)}`;
    let n = this.constCache.get(key);
    if (!n) {
      n = this.floatTensor(`const_f_${this.constCache.size}`, [], Float32Array.of(value));
      this.constCache.set(key, n);
    }
    return n;
  }

  constInt64(values: readonly number[], scalar = false): string {
    const key = `i:${scalar ? 's' : 'v'}:${values.join(',')}`;
    let n = this.constCache.get(key);
    if (!n) {
      const raw = new Uint8Array(values.length * 8);
      const dv = new DataView(raw.buffer);
      values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
      n = this.initializer(`const_i_${this.constCache.size}`, 'int64', scalar ? [] : [values.length], raw);
      this.constCache.set(key, n);
    }
    return n;
  }

  /** Adds one node and returns its output names (one per `outputs`). */
  nodeN(opType: string, inputs: readonly string[], outputs: number, attrs: Attrs = {}, name?: string, domain?: string): string[] {
    const base = this.unique(name ?? `${opType}_${this.nodes.length}`);
    const outs = outputs === 1 ? [this.unique(`${base}_out`)] : Array.from({ length: outputs }, (_, i) => this.unique(`${base}_out${i}`));
    this.nodes.push({ opType, inputs, outputs: outs, name: base, attributes: attrs, ...(domain ? { domain } : {}) });
    return outs;
  }

  node(opType: string, inputs: readonly string[], attrs: Attrs = {}, name?: string): string {
    return this.nodeN(opType, inputs, 1, attrs, name)[0]!;
  }

  /** Renames the final value so the graph output carries a stable name (e.g. last_hidden_state). */
  identity(value: string, outputName: string): string {
    this.names.add(outputName);
    this.nodes.push({ opType: 'Identity', inputs: [value], outputs: [outputName], name: `${outputName}_identity` });
    return outputName;
  }

  /** opsets: domain ('' = ai.onnx, 'com.microsoft' for ONNX Runtime contrib ops) → version. */
  encode(meta: {
    producerName: string; producerVersion: string; opsets: Readonly<Record<string, number>>; docString?: string;
  }): Uint8Array {
    return encodeOnnxModel({
      graph: { name: this.name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs },
      opsets: meta.opsets,
      producerName: meta.producerName,
      producerVersion: meta.producerVersion,
      ...(meta.docString ? { docString: meta.docString } : {}),
    });
  }
}
