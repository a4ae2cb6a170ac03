// The `embed` and `model` commands: one real CLI process, the rest through the command functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config/index.ts';
import type { CommandContext } from '../src/cli/context.ts';
import { modelCommand } from '../src/cli/model.ts';
import { embedCommand } from '../src/cli/embed.ts';
import { createLocalEncoder } from '../src/encoder/local-encoder.ts';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';

const run = promisify(execFile);
const bin = new URL('../bin/embedsync.js', import.meta.url).pathname;

function context(argv: string[]): { ctx: CommandContext; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = {
    argv, env: {}, config: () => loadConfig({ EMBEDDING_THREADS: '1' }), cores: 1, cwd: process.cwd(),
    stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) },
    signal: new AbortController().signal,
  };
  return { ctx, out, err };
}

test('embed prints the vector, dimensions, checksum and version as JSON', async () => {
  const { stdout } = await run(process.execPath, [bin, 'embed', 'текст заявки', '--query', '--model', TINY_MODEL_DIR],
    { env: { ...process.env, EMBEDDING_THREADS: '1' } });
  const printed = JSON.parse(stdout) as { embedding: number[]; dimensions: number; model_checksum: string; model_version: string };
  assert.deepEqual(Object.keys(printed), ['embedding', 'dimensions', 'model_checksum', 'model_version']);
  const encoder = await createLocalEncoder({ dir: TINY_MODEL_DIR, dtype: 'fp32', threads: 1, maxBatchTokens: 8192 });
  try {
    const expected = (await encoder.encode(['текст заявки'], 'query')).vectors[0]!;
    assert.equal(printed.dimensions, 64);
    assert.equal(printed.model_checksum, encoder.info.checksum);
    assert.equal(printed.model_version, encoder.info.version);
    assert.ok(printed.embedding.every((x, i) => Math.abs(x - expected[i]!) <= 1e-6));
    const doc = context(['текст заявки', '--model', TINY_MODEL_DIR]);
    assert.equal(await embedCommand(doc.ctx), 0);
    const docVec = (JSON.parse(doc.out.join('')) as { embedding: number[] }).embedding;
    assert.ok(docVec.some((x, i) => Math.abs(x - expected[i]!) > 1e-3), 'document vector differs from the query vector');
  } finally {
    await encoder.close();
  }
});

test('model info lists name, dimensions, pooling, prompts, max length, checksum, file, load time', async () => {
  const { ctx, out } = context(['info', '--model', TINY_MODEL_DIR]);
  assert.equal(await modelCommand(ctx), 0);
  const text = out.join('');
  for (const re of [/name\s+\S*tiny-roberta/, /dimensions\s+64/, /pooling\s+cls/, /query prompt\s+"search_query: "/,
    /document prompt\s+"search_document: "/, /max length\s+512 tokens/, /checksum\s+[0-9a-f]{16}/, /file\s+onnx\/model\.onnx/,
    /load time\s+\d+\.\d{3} s/]) {
    assert.match(text, re);
  }
  const json = context(['info', '--json', '--model', TINY_MODEL_DIR]);
  await modelCommand(json.ctx);
  assert.equal((JSON.parse(json.out.join('')) as { dimensions: number }).dimensions, 64);
});

test('model make-test writes the test model; bad usage and missing folders are reported', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'embedsync-cli-'));
  try {
    const { ctx, out } = context(['make-test', dir]);
    assert.equal(await modelCommand(ctx), 0);
    assert.match(out.join(''), /random weights/);
    assert.ok((await readFile(join(dir, 'onnx/model.onnx'))).equals(await readFile(join(TINY_MODEL_DIR, 'onnx/model.onnx'))));
    await assert.rejects(modelCommand(context(['frobnicate']).ctx), /usage: embedsync model/);
    await assert.rejects(embedCommand(context([]).ctx), /usage: embedsync embed/);
    await assert.rejects(embedCommand(context(['x', '--model', join(dir, 'nope')]).ctx), /nope/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
