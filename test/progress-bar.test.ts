// The one progress bar (CLI backfills, hub downloads): silent off a terminal, redrawn at most every 100 ms
// but always at the end, one line ended by finish().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressBar } from '../src/lib/progress-bar.ts';

test('off a terminal nothing is drawn', () => {
  const drawn: string[] = [];
  const bar = progressBar({ isTTY: false, write: (s) => drawn.push(s) }, 'backfill');
  bar.update(1, 2);
  bar.finish();
  assert.deepEqual(drawn, []);
  progressBar(undefined, 'x').finish();
});

test('counts: bar, percentage, done/total; a held-back update is drawn by finish', () => {
  const drawn: string[] = [];
  const bar = progressBar({ isTTY: true, write: (s) => drawn.push(s) }, 'backfill');
  bar.update(1, 4);
  bar.update(2, 4); // within 100 ms of the first: held back
  assert.equal(drawn.length, 1);
  assert.match(drawn[0]!, /^\rbackfill \[#{8}-{22}\] {2}25% 1\/4/);
  bar.finish();
  assert.match(drawn[1]!, /^\rbackfill \[#{15}-{15}\] {2}50% 2\/4/);
  assert.equal(drawn[2], '\n');
  bar.finish();
  assert.equal(drawn.length, 3, 'one line end only');
});

test('bytes in MB; the last update is drawn at once; an unknown total shows just the amount', () => {
  const drawn: string[] = [];
  const bar = progressBar({ isTTY: true, write: (s) => drawn.push(s) }, 'onnx/model.onnx', { bytes: true });
  bar.update(1e6, 2e6);
  bar.update(2e6, 2e6);
  assert.match(drawn[1]!, /^\ronnx\/model\.onnx \[#{30}\] 100% 2\.0\/2\.0 MB/);
  const unknown: string[] = [];
  const u = progressBar({ isTTY: true, write: (s) => unknown.push(s) }, 'f', { bytes: true });
  u.update(1.5e6);
  u.finish();
  assert.deepEqual(unknown.map((s) => s.trimEnd()), ['\rf 1.5 MB', '']);
});
