// Token-id rows padded to the longest into ONNX Runtime inputs: the benchmarks' bare-session runs feed the
// model exactly what the encoder would, without going through it.
import * as ort from 'onnxruntime-node';

export function paddedFeeds(rows: readonly (readonly number[])[], pad: number): Record<string, ort.Tensor> {
  const width = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * width).fill(BigInt(pad));
  const mask = new BigInt64Array(rows.length * width);
  rows.forEach((row, r) => row.forEach((id, t) => { ids[r * width + t] = BigInt(id); mask[r * width + t] = 1n; }));
  return { input_ids: new ort.Tensor('int64', ids, [rows.length, width]), attention_mask: new ort.Tensor('int64', mask, [rows.length, width]) };
}
