// Regenerates the committed test model: npx tsx scripts/make-test-model.ts [dir]
// (default test/fixtures/models/tiny-roberta). The output is byte-for-byte reproducible.
import { writeTinyModel } from '../src/model/tiny-model.ts';
import { TINY_MODEL_DIR } from '../test/support/tiny-model-dir.ts';

const dir = process.argv[2] ?? TINY_MODEL_DIR;
const files = await writeTinyModel(dir);
process.stdout.write(`wrote ${files.length} files to ${dir}\n`);
