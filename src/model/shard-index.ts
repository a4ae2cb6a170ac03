// The shard list of a sharded safetensors checkpoint (model.safetensors.index.json, whose weight_map names the
// file holding each tensor). The names come from a downloaded file and become paths in the model cache, so
// only plain `*.safetensors` file names in the same folder are accepted.

/** The two layouts of a checkpoint's weights: one file, or an index naming its shards. */
export const SINGLE_FILE = 'model.safetensors';
export const SHARD_INDEX = 'model.safetensors.index.json';

const PLAIN_SHARD = /^[A-Za-z0-9_][\w.-]{0,200}\.safetensors$/;

export class ShardIndexError extends Error {
  override name = 'ShardIndexError';
}

/** A bare `*.safetensors` file name: no folder, no leading dot, no `..`. */
export function isPlainShardName(name: string): boolean {
  return PLAIN_SHARD.test(name) && !name.includes('..');
}

/** The distinct shard files of an index (sorted); lists every refused name at once. */
export function shardFiles(index: unknown, label: string): readonly string[] {
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new ShardIndexError(`${label} has no weight_map object`);
  }
  const values = Object.values(weightMap as Record<string, unknown>);
  if (!values.length) throw new ShardIndexError(`${label} has an empty weight_map`);
  const names = [...new Set(values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))))].sort();
  const bad = names.filter((n) => !isPlainShardName(n));
  if (bad.length) {
    throw new ShardIndexError(`${label} names shard files that are not plain *.safetensors names in the model folder: ` +
      `${bad.map((b) => JSON.stringify(b)).join(', ')}`);
  }
  return names;
}
