// `embedsync embed "text" [--query] [--model DIR]`: one embedding as JSON on stdout.
import { parseArgs } from 'node:util';
import { UsageError, type Command } from './context.ts';
import { encoderFromContext } from './model-args.ts';

const USAGE = 'usage: embedsync embed "text" [--query] [--model DIR]';

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
  if (parsed.positionals.length !== 1) throw new UsageError(USAGE);
  const encoder = await encoderFromContext(ctx, parsed.values.model);
  try {
    const result = await encoder.encode([parsed.positionals[0]!], parsed.values.query ? 'query' : 'document');
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
