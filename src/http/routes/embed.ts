// POST /embed (the old service's shape, and TEI's { inputs } shape) and POST /embed/batch.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Role } from '../../encoder/types.ts';
import type { RouteContext } from '../context.ts';
import { badRequest } from '../errors.ts';
import { PROMPT_NAMES, resolveAsGiven, textProblem } from '../text-checks.ts';

interface EmbedBody {
  readonly text?: string;
  readonly role?: Role;
  readonly inputs?: string | readonly string[];
  readonly prompt_name?: string | null;
  readonly normalize?: boolean;
}

interface BatchBody {
  readonly items: readonly { readonly id: string; readonly text: string }[];
  readonly role?: Role;
}

export function embedRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { embedder, schemas, metrics } = ctx;

  app.post('/embed', { schema: schemas.embed, config: { rateLimit: ctx.rateLimit.single } }, async (request) => {
    const body = request.body as EmbedBody;
    if (body.inputs !== undefined) return embedTei(body);
    if (body.text === undefined) throw badRequest('text is required (or inputs, for the TEI request shape)');
    const problem = textProblem(body.text, 'text');
    if (problem) throw badRequest(problem);
    const { outcomes, encoder } = await embedder.embed([{ text: body.text, role: body.role ?? 'query' }]);
    const outcome = outcomes[0]!;
    if (!outcome.ok) throw badRequest(`text cannot be embedded: ${outcome.error}`);
    const { info } = encoder;
    return {
      embedding: Array.from(outcome.vector),
      dimensions: info.dimensions,
      model_version: info.version,
      model_checksum: info.checksum,
      cached: outcome.cached,
    };
  });

  /** TEI answers a bare array of vectors; prompt_name picks the prompt, as TEI does. */
  async function embedTei(body: EmbedBody): Promise<number[][]> {
    if (body.text !== undefined) throw badRequest('send either text or inputs, not both');
    if (body.normalize === false) throw badRequest('normalize=false is not supported: embedsync always returns L2-normalized vectors');
    const many = Array.isArray(body.inputs);
    const texts: readonly string[] = many ? (body.inputs as readonly string[]) : [body.inputs as string];
    texts.forEach((t, i) => {
      const problem = textProblem(t, many ? `inputs[${i}]` : 'inputs');
      if (problem) throw badRequest(problem);
    });
    const { prompts } = ctx.model.encoder().info;
    const role = body.prompt_name ? PROMPT_NAMES[body.prompt_name] : undefined;
    const { outcomes } = await embedder.embed(texts.map((text) => (role ? { text, role } : resolveAsGiven(text, prompts, 'document'))));
    return outcomes.map((o, i) => {
      if (!o.ok) throw badRequest(`${many ? `inputs[${i}]` : 'inputs'} cannot be embedded: ${o.error}`);
      return Array.from(o.vector);
    });
  }

  app.post('/embed/batch', { schema: schemas.embedBatch, config: { rateLimit: ctx.rateLimit.batch } }, async (request: FastifyRequest) => {
    const body = request.body as BatchBody;
    const role = body.role ?? 'query';
    const problems = body.items.map((item, i) => textProblem(item.text, `items[${i}].text`));
    const valid = body.items.flatMap((item, i) => (problems[i] === undefined ? [{ i, text: item.text }] : []));
    const { outcomes, encoder } = await embedder.embed(valid.map(({ text }) => ({ text, role })));
    const byIndex = new Map(valid.map(({ i }, j) => [i, outcomes[j]!]));
    const results = body.items.map((item, i) => {
      const o = byIndex.get(i);
      if (o?.ok) return { id: item.id, embedding: Array.from(o.vector), cached: o.cached };
      return { id: item.id, embedding: null, cached: false, error: problems[i] ?? `items[${i}].text cannot be embedded: ${(o as { error: string }).error}` };
    });
    const successful = results.filter((r) => r.embedding !== null).length;
    const cachedCount = results.filter((r) => r.cached).length;
    metrics.batchSize.observe(body.items.length);
    request.log.info({ event: 'batch_process', total: results.length, successful, cached: cachedCount }, 'batch_process');
    return {
      results, total: results.length, successful, cached_count: cachedCount,
      model_version: encoder.info.version, model_checksum: encoder.info.checksum,
    };
  });
}
