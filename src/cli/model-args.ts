// Shared by `embed` and `model info`: the --model override and building the encoder from config.
import type { Encoder } from '../encoder/index.ts';
import type { CommandContext } from './context.ts';

/** Loads the configured encoder, with EMBEDDING_MODEL replaced by --model when given. */
export async function encoderFromContext(ctx: CommandContext, modelOverride: string | undefined): Promise<Encoder> {
  const { createEncoder } = await import('../encoder/index.ts');
  const config = ctx.config().model;
  return createEncoder(
    modelOverride === undefined ? config : { ...config, model: modelOverride, backend: 'local' },
    { progress: ctx.stderr, cwd: ctx.cwd, signal: ctx.signal },
  );
}
