// TEI's embed at POST / and POST /invocations (clients given the server root as their endpoint post there), and
// the TEI request shape of POST /embed. Errors come back in TEI's { error, error_type } shape (errors.ts).
import type { FastifyInstance } from 'fastify';
import { encodeDeadline, type RouteContext } from '../context.ts';
import { badRequest } from '../errors.ts';
import { PROMPT_NAMES, resolveAsGiven, textProblem } from '../text-checks.ts';

export interface TeiBody {
  readonly inputs: string | readonly string[];
  readonly prompt_name?: string | null;
  readonly normalize?: boolean;
  readonly truncate?: boolean;
  readonly truncation_direction?: string;
}

/** TEI answers a bare array of vectors; prompt_name picks the prompt, as TEI does. */
export async function embedTei(ctx: RouteContext, body: TeiBody, deadline: number): Promise<number[][]> {
  if (body.normalize === false) throw badRequest('normalize=false is not supported: embedsync always returns L2-normalized vectors');
  const truncate = body.truncation_direction?.toLowerCase() === 'left' ? 'left' : 'right';
  // Remote backends cut at the right, whatever is asked: refuse rather than answer with other vectors.
  if (truncate === 'left' && ctx.model.encoder().info.backend !== 'local') {
    throw badRequest(`truncation_direction Left needs the local encoder; the ${ctx.model.encoder().info.backend} backend ` +
      'cuts inputs at the right: send Right or leave it out');
  }
  const many = Array.isArray(body.inputs);
  const texts: readonly string[] = many ? (body.inputs as readonly string[]) : [body.inputs as string];
  texts.forEach((t, i) => {
    const problem = textProblem(t, many ? `inputs[${i}]` : 'inputs');
    if (problem) throw badRequest(problem);
  });
  const { prompts } = ctx.model.encoder().info;
  const role = body.prompt_name ? PROMPT_NAMES[body.prompt_name] : undefined;
  const { outcomes } = await ctx.embedder.embed(texts.map((text) => (role ? { text, role } : resolveAsGiven(text, prompts, 'document'))),
    deadline, truncate);
  return outcomes.map((o, i) => {
    if (!o.ok) throw badRequest(`${many ? `inputs[${i}]` : 'inputs'} cannot be embedded: ${o.error}`);
    return Array.from(o.vector);
  });
}

export function teiRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const options = (schema: object) => ({
    schema, bodyLimit: ctx.bodyLimits.batch, config: { rateLimit: ctx.rateLimit.batch, needsModel: true, encodes: true },
  });
  app.post('/', options(ctx.schemas.teiRoot), async (request, reply) => embedTei(ctx, request.body as TeiBody, encodeDeadline(ctx, reply)));
  app.post('/invocations', options(ctx.schemas.teiInvocations), async (request, reply) =>
    embedTei(ctx, request.body as TeiBody, encodeDeadline(ctx, reply)));
}
