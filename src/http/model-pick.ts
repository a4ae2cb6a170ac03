// Which loaded model a request asks for by name. A process serving tables on several models has them all
// loaded (the configured one and the others, ctx.otherModels); a request's `model` picks one of them, and a
// name of none is refused with the names that exist. The configured model answers when no name is given.
import type { Encoder } from '../encoder/types.ts';
import type { RouteContext } from './context.ts';
import { badRequest } from './errors.ts';

/** The names of the models loaded, the configured one first. */
export function loadedModelNames(ctx: RouteContext): string[] {
  const own = ctx.model.encoder().info.name;
  return [own, ...[...(ctx.otherModels?.().keys() ?? [])].filter((n) => n !== own)];
}

/**
 * The encoder `name` asks for: undefined for the configured model (and for no name, or a name in `keep`, such
 * as the OpenAI prompt aliases); another loaded model; else 400 naming the loaded ones. `lenient`: a name of no
 * model is ignored while only one model is loaded (OpenAI clients send names of their own, e.g.
 * text-embedding-3-small).
 */
export function pickModel(ctx: RouteContext, name: string | undefined,
  o: { readonly keep?: readonly string[]; readonly lenient?: boolean } = {}): Encoder | undefined {
  if (name === undefined) return undefined;
  const own = ctx.model.encoder().info.name;
  if (name === own || o.keep?.includes(name)) return undefined;
  const found = ctx.otherModels?.().get(name);
  if (found) return found;
  const names = loadedModelNames(ctx);
  if (o.lenient && names.length === 1) return undefined;
  throw badRequest(`model ${JSON.stringify(name.slice(0, 200))} is not loaded here; loaded models: ${names.join(', ')}`);
}
