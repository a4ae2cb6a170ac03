// Opening the weights of a checkpoint folder as one tensor map, whether it holds a single safetensors file
// or shards listed by an index.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsError, type TensorEntry } from './safetensors-format.ts';
import { openSafetensorsFile, type OpenSafetensors } from './safetensors-reader.ts';
import { SHARD_INDEX, shardFiles, ShardIndexError, SINGLE_FILE } from './shard-index.ts';

/**
 * The checkpoint in `dir`: model.safetensors, or the shards a model.safetensors.index.json names (its
 * weight_map says which shard holds each tensor). All files stay open until close().
 */
export function openCheckpointTensors(dir: string): OpenSafetensors & { readonly files: readonly string[] } {
  const single = join(dir, SINGLE_FILE);
  if (existsSync(single)) return { ...openSafetensorsFile(single), files: [SINGLE_FILE] };
  const indexPath = join(dir, SHARD_INDEX);
  if (!existsSync(indexPath)) throw new SafetensorsError(`${dir} has neither ${SINGLE_FILE} nor ${SHARD_INDEX}`);
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (err) {
    throw new SafetensorsError(`${indexPath} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  let shardNames: readonly string[];
  try {
    // The same rules the hub download applies before fetching shards; refused names never become paths.
    shardNames = shardFiles(index, indexPath);
  } catch (err) {
    if (err instanceof ShardIndexError) throw new SafetensorsError(err.message, { cause: err });
    throw err;
  }
  const weightMap = (index as { weight_map: Readonly<Record<string, string>> }).weight_map;
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
    if (missing.length) {
      throw new SafetensorsError(`${indexPath}: ${missing.length} tensors not found in their shard (first: ${missing[0]})`);
    }
    return { tensors, metadata: opened[0]!.metadata, files: [SHARD_INDEX, ...shardNames], close: closeAll };
  } catch (err) {
    closeAll();
    throw err;
  }
}
