// The byte scanners behind the body parser: nesting depth and TEI's top-level "inputs", on raw (partial) JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasTopLevelKey, nestsDeeperThan } from '../src/http/body-limits.ts';

const b = (s: string) => Buffer.from(s);

test('nestsDeeperThan counts brackets outside strings only, escapes included', () => {
  assert.equal(nestsDeeperThan(b('{"items":[{"id":"a","text":"x"}]}'), 3), false);
  assert.equal(nestsDeeperThan(b('{"items":[{"id":"a","text":"x"}]}'), 2), true);
  assert.equal(nestsDeeperThan(b('{"text":"[[[[{{{{ \\" [[[[ "}'), 1), false);
  assert.equal(nestsDeeperThan(b(`${'['.repeat(17)}`), 16), true, 'unterminated still counts');
  assert.equal(nestsDeeperThan(b(`${'['.repeat(16)}${']'.repeat(16)}`), 16), false);
});

test('hasTopLevelKey finds a key at depth 1 only, in a prefix too', () => {
  assert.equal(hasTopLevelKey(b('{"truncate":true, "inputs":["a'), 'inputs'), true);
  assert.equal(hasTopLevelKey(b('{ "inputs" : "x"}'), 'inputs'), true);
  assert.equal(hasTopLevelKey(b('{"text":"the word \\"inputs\\" and \\"inputs\\":"}'), 'inputs'), false, 'inside a string value');
  assert.equal(hasTopLevelKey(b('{"meta":{"inputs":1},"text":"x'), 'inputs'), false, 'nested');
  assert.equal(hasTopLevelKey(b('{"text":"inputs"}'), 'inputs'), false, 'a value, not a key');
  assert.equal(hasTopLevelKey(b('["inputs"]'), 'inputs'), false);
});
