// Turns a downloaded HF checkpoint folder (config.json + a single model.safetensors) into the layout the
// encoder loads, by writing onnx/model.onnx next to it. The full importer (sharded checkpoints, fused ops,
// int8) builds on this same converter.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, parseEncoderConfig } from './checkpoint.ts';
import { convertCheckpoint } from './convert-checkpoint.ts';
import { parseSafetensors } from './safetensors.ts';

/** Converts dir/model.safetensors to dir/onnx/model.onnx (written atomically); returns the ONNX path. */
export async function importCheckpoint(dir: string, producerVersion = '0'): Promise<string> {
  let configJson: unknown;
  try {
    configJson = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  } catch (err) {
    throw new CheckpointError(`cannot read config.json in ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const config = parseEncoderConfig(configJson, join(dir, 'config.json'));
  const weightsPath = join(dir, 'model.safetensors');
  let bytes: Buffer;
  try {
    bytes = await readFile(weightsPath);
  } catch (err) {
    throw new CheckpointError(`cannot read model.safetensors in ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const onnx = convertCheckpoint({ config, weights: parseSafetensors(bytes, weightsPath).tensors, producerVersion });
  const out = join(dir, 'onnx', 'model.onnx');
  await mkdir(join(dir, 'onnx'), { recursive: true });
  await writeFile(`${out}.part`, onnx);
  await rename(`${out}.part`, out);
  return out;
}
