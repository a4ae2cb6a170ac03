// POST /embed (the old service's shape, and TEI's { inputs } shape) and POST /embed/batch.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Role } from '../../encoder/types.ts';
import { encodeDeadline, type RouteContext } from '../context.ts';
import { badRequest } from '../errors.ts';
import { textProblem } from '../text-checks.ts';
import { embedTei, type TeiBody } from './tei.ts';
import { pickModel } from '../model-pick.ts';

interface EmbedBody {
  readonly text?: string;
  readonly role?: Role;
  readonly inputs?: string | readonly string[];
  readonly model?: string;
}

interface BatchBody {
  readonly items: readonly { readonly id: string; readonly text: string }[];
  readonly role?: Role;
  readonly model?: string;
}

export function embedRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { embedder, schemas, metrics } = ctx;

  app.post('/embed', {
    schema: schemas.embed, bodyLimit: ctx.bodyLimits.teiEmbed,
    config: { rateLimit: ctx.rateLimit.single, needsModel: true, encodes: true, teiShape: true },
  }, async (request, reply) => {
    const body = request.body as EmbedBody;
    if (body.inputs !== undefined) return embedTei(ctx, body as TeiBody, encodeDeadline(ctx, reply));
    // The schema requires exactly one of text/inputs; the checks below the schema cannot word as clearly.
    const text = body.text!;
    const problem = textProblem(text, 'text');
    if (problem) throw badRequest(problem);
    const picked = pickModel(ctx, body.model);
    const { outcomes, encoder } = await embedder.embed([{ text, role: body.role ?? 'query' }], encodeDeadline(ctx, reply), 'right', picked);
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

  app.post('/embed/batch', {
    schema: schemas.embedBatch, bodyLimit: ctx.bodyLimits.batch,
    config: { rateLimit: ctx.rateLimit.batch, needsModel: true, encodes: true },
  }, async (request: FastifyRequest, reply) => {
    const body = request.body as BatchBody;
    const role = body.role ?? 'query';
    // Every per-text problem (empty, whitespace, NUL, surrogate) is an item error, like a refusal by the model.
    const problems = body.items.map((item, i) => textProblem(item.text, `items[${i}].text`));
    const valid = body.items.flatMap((item, i) => (problems[i] === undefined ? [{ i, text: item.text }] : []));
    const picked = pickModel(ctx, body.model);
    const { outcomes, encoder } = await embedder.embed(valid.map(({ text }) => ({ text, role })), encodeDeadline(ctx, reply), 'right',
      picked);
    const byIndex = new Map(valid.map(({ i }, j) => [i, outcomes[j]!]));
    const results = body.items.map((item, i) => {
      const o = byIndex.get(i);
      if (o?.ok) return { id: item.id, embedding: Array.from(o.vector), cached: o.cached };
      return {
        id: item.id, embedding: null, cached: false,
        error: problems[i] ?? `items[${i}].text cannot be embedded: ${(o as { error: string }).error}`,
      };
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
