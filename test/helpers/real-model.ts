// A mid-sized model for the tests that must see what seconds of model time do to the process: 6 layers,
// hidden 768, int8, random weights, the test tokenizer. Generated once per `npm test` run (a few seconds) into
// the run's scratch folder and shared by the test files (a lock folder keeps two from writing it at once).
import { mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importModel } from '../../src/model/import-checkpoint.ts';
import { writeShapedCheckpoint } from '../support/shaped-checkpoint.ts';
import { TINY_CONFIG } from '../../src/model/tiny-model.ts';

const ready = (dir: string) => stat(join(dir, '.ready')).then(() => true, () => false);

export async function midModelDir(): Promise<string> {
  const root = join(process.env.EMBEDSYNC_TEST_PG_DIR ?? join(tmpdir(), 'embedsync-test-models'), 'models');
  const dir = join(root, 'mid-6x768');
  if (await ready(dir)) return dir;
  await mkdir(root, { recursive: true });
  const lock = `${dir}.lock`;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      if (await ready(dir)) return dir;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (!(await ready(dir))) {
      await rm(dir, { recursive: true, force: true });
      writeShapedCheckpoint(dir, { layers: 6, hidden: 768, vocab: TINY_CONFIG.vocab_size, seed: 7 });
      await importModel(dir, { quantize: 'int8', writeFp32: false });
      await rm(join(dir, 'model.safetensors'));
      await mkdir(join(dir, '.ready'));
    }
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
  return dir;
}
