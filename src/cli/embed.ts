// `embedsync embed "text" [--query] [--model DIR]`: one embedding as JSON on stdout. `-` (or no text with
// stdin piped in) reads the text from stdin: the way in for long texts.
import { parseArgs } from 'node:util';
import { textProblem } from '../http/text-checks.ts';
import { textOperand, UsageError, type Command } from './context.ts';
import { encoderFromContext } from './model-args.ts';

const USAGE = 'usage: embedsync embed "text" | - [--query] [--model DIR]';

export const embedCommand: Command = async (ctx) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...ctx.argv],
      options: { query: { type: 'boolean', default: false }, model: { type: 'string' } },
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  const text = await textOperand(ctx, parsed.positionals, USAGE);
  // The HTTP API's rules (400 there): an empty or blank text has nothing to embed, a NUL cannot be stored.
  const problem = textProblem(text,
    parsed.positionals[0] === undefined || parsed.positionals[0] === '-' ? 'the text on stdin' : 'the text');
  if (problem) throw new UsageError(`${problem}\n${USAGE}`);
  const encoder = await encoderFromContext(ctx, parsed.values.model);
  try {
    const result = await encoder.encode([text], parsed.values.query ? 'query' : 'document');
    if (result.truncated) ctx.stderr.write(`embedsync: text cut to the model's ${encoder.info.maxTokens} tokens\n`);
    const vector = result.vectors[0]!;
    ctx.stdout.write(`${JSON.stringify({
      embedding: Array.from(vector),
      dimensions: vector.length,
      model_checksum: encoder.info.checksum,
      model_version: encoder.info.version,
    })}\n`);
    return 0;
  } finally {
    await encoder.close();
  }
};
