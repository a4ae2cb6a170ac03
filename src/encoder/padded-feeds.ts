// Token-id rows padded to the longest into ONNX Runtime inputs. The encoder feeds every batch through here, and
// the benchmarks' bare-session runs use it too, so they measure the model on exactly what the encoder feeds it.
import * as ort from 'onnxruntime-node';

/** input_ids (pad id past each row's end), attention_mask, and token_type_ids (all 0) when the model takes them. */
export function paddedFeeds(rows: readonly (readonly number[])[], padId: number, withTokenTypes = false): Record<string, ort.Tensor> {
  const width = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * width).fill(BigInt(padId));
  const mask = new BigInt64Array(rows.length * width);
  rows.forEach((row, r) => row.forEach((id, t) => {
    ids[r * width + t] = BigInt(id);
    mask[r * width + t] = 1n;
  }));
  const dims = [rows.length, width];
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, dims),
    attention_mask: new ort.Tensor('int64', mask, dims),
  };
  if (withTokenTypes) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(ids.length), dims);
  return feeds;
}
