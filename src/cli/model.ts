// `embedsync model <sub-command>`: info (what the encoder loads), make-test (write the test model).
import { resolve } from 'node:path';
import { UsageError, type Command, type CommandContext } from './context.ts';

const SUBCOMMANDS: Readonly<Record<string, (ctx: CommandContext) => Promise<number>>> = {
  'make-test': makeTest,
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
