// The house's rule, checked on every run: rooms import only rooms below them and no files import each other
// in a circle (scripts/check-rooms.ts, drawn in docs/architecture.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { checkRooms } from '../scripts/check-rooms.ts';

test('src/: every import runs down the floors, and no files import each other in a circle', () => {
  assert.deepEqual(checkRooms().problems, []);
});

test('the check sees an import that runs up, a room on no floor and a circle of files', () => {
  const src = mkdtempSync(join(tmpdir(), 'rooms-'));
  const put = (path: string, text: string) => {
    mkdirSync(dirname(join(src, path)), { recursive: true });
    writeFileSync(join(src, path), text);
  };
  put('config/a.ts', "import type { X } from '../db/x.ts';\nexport const a = 1;\n");
  put('db/x.ts', "export type X = number;\nexport const load = () => import('./y.ts');\n");
  put('db/y.ts', "import { load } from './x.ts';\nexport const y = load;\n");
  put('attic/z.ts', 'export const z = 1;\n');
  const { problems } = checkRooms(src);
  assert.ok(problems.some((p) => p.startsWith('config/a.ts imports db/x.ts')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('src/attic is a room on no floor')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('circle') && p.includes('db/x.ts') && p.includes('db/y.ts')), problems.join('\n'));
});
