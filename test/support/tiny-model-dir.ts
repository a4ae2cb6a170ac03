// The committed test model (test/fixtures/models/tiny-roberta) that tests, benches and the demo load. The product
// writes the same files with `embedsync model make-test <dir>` (src/model/tiny-model.ts): it never reads test/.
import { fileURLToPath } from 'node:url';

export const TINY_MODEL_DIR = fileURLToPath(new URL('../fixtures/models/tiny-roberta', import.meta.url));
