// Variants of the tiny test model for model-change tests, written to a temp dir at test time: another
// seed (same dimension, new checksum) or another hidden size (a dimension change). Built from the same
// generator as the committed fixture, so they load through the real encoder.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { after, before } from 'node:test';
import { dirname, join } from 'node:path';
import { parseEncoderConfig } from '../../src/model/checkpoint.ts';
import { convertCheckpoint } from '../../src/model/convert-checkpoint.ts';
import { parseSafetensors, writeSafetensors } from '../../src/model/safetensors.ts';
import { buildTinyModel, randomEncoderWeights, TINY_CONFIG } from '../../src/model/tiny-model.ts';

export interface VariantSpec {
  readonly hidden: number;
  readonly seed: number;
}

/** Writes a tiny-model variant under `root`; returns its folder. */
export async function writeModelVariant(root: string, v: VariantSpec): Promise<string> {
  const dir = join(root, `tiny-h${v.hidden}-s${v.seed}`);
  const files = buildTinyModel(v.seed);
  if (v.hidden !== TINY_CONFIG.hidden_size) {
    const json = { ...TINY_CONFIG, hidden_size: v.hidden, intermediate_size: v.hidden * 2 };
    const config = parseEncoderConfig(json);
    const safetensors = writeSafetensors(randomEncoderWeights(config, { seed: v.seed, dtype: 'F16' }), { format: 'pt' });
    files.set('config.json', new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`));
    files.set('model.safetensors', safetensors);
    files.set('onnx/model.onnx',
      convertCheckpoint({ config, weights: parseSafetensors(safetensors).tensors, producerVersion: 'tiny-variant' }));
    const pooling = JSON.parse(new TextDecoder().decode(files.get('1_Pooling/config.json'))) as Record<string, unknown>;
    files.set('1_Pooling/config.json',
      new TextEncoder().encode(`${JSON.stringify({ ...pooling, word_embedding_dimension: v.hidden }, null, 2)}\n`));
  }
  for (const [path, bytes] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  return dir;
}

/**
 * Writes the variants once before the test file's tests, into a temporary folder removed after them; the
 * returned object holds their folders by name once `before` has run.
 */
export function modelVariantsForTests<K extends string>(specs: Readonly<Record<K, VariantSpec>>): Readonly<Record<K, string>> {
  const dirs = {} as Record<K, string>;
  let root: string | undefined;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'embedsync-models-'));
    for (const k of Object.keys(specs) as K[]) dirs[k] = await writeModelVariant(root, specs[k]);
  });
  after(() => (root ? rm(root, { recursive: true, force: true }) : undefined));
  return dirs;
}
