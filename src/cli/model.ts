// `embedsync model <sub-command>`: info (what the encoder loads), make-test (write the test model),
// import (convert a Hugging Face checkpoint, see model-import.ts).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type Command, type CommandContext } from './context.ts';
import { encoderFromContext } from './model-args.ts';

const SUBCOMMANDS: Readonly<Record<string, (ctx: CommandContext) => Promise<number>>> = {
  info,
  'make-test': makeTest,
  import: async (ctx) => (await import('./model-import.ts')).modelImport(ctx),
};

export const modelCommand: Command = async (ctx) => {
  const [sub, ...argv] = ctx.argv;
  const run = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (!run) throw new UsageError(`usage: embedsync model ${Object.keys(SUBCOMMANDS).join('|')} ...`);
  return run({ ...ctx, argv });
};

async function makeTest(ctx: CommandContext): Promise<number> {
  const [dir, ...extra] = ctx.argv;
  if (!dir || extra.length) throw new UsageError('usage: embedsync model make-test <dir>');
  const { writeTinyModel } = await import('../model/tiny-model.ts');
  const out = resolve(ctx.cwd, dir);
  const files = await writeTinyModel(out);
  ctx.stdout.write(`wrote the test model (random weights, ${files.length} files) to ${out}\n`);
  return 0;
}

/** `model info [--model DIR] [--json]`: what the encoder loads and how it encodes. */
async function info(ctx: CommandContext): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: [...ctx.argv], options: { model: { type: 'string' }, json: { type: 'boolean', default: false } } }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: embedsync model info [--model DIR] [--json]`);
  }
  const encoder = await encoderFromContext(ctx, values.model);
  try {
    const i = encoder.info;
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify(i)}\n`);
      return 0;
    }
    const rows: [string, string][] = [
      ['name', i.name],
      ['dimensions', String(i.dimensions)],
      ['pooling', i.pooling],
      ['query prompt', JSON.stringify(i.prompts.query)],
      ['document prompt', JSON.stringify(i.prompts.document)],
      ['normalize', i.normalize ? 'yes (model)' : 'no (embedsync normalizes anyway)'],
      ['max length', `${i.maxTokens} tokens`],
      ['checksum', i.checksum],
      ['version', i.version],
      ['file', i.file],
      ['load time', `${i.loadTimeSeconds.toFixed(3)} s`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    ctx.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
    return 0;
  } finally {
    await encoder.close();
  }
}
