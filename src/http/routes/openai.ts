// POST /v1/embeddings and GET /v1/models in OpenAI's shapes, so OpenAI SDKs and tools work unchanged.
import type { FastifyInstance } from 'fastify';
import type { Role } from '../../encoder/types.ts';
import type { RouteContext } from '../context.ts';
import { badRequest } from '../errors.ts';
import { resolveAsGiven, textProblem } from '../text-checks.ts';

interface OpenAiBody {
  readonly input: string | readonly string[];
  readonly encoding_format?: 'float' | 'base64';
  readonly dimensions?: number;
  readonly input_type?: Role;
}

/** OpenAI's base64 format: the float32 values as little-endian bytes. */
export function float32Base64(vector: Float32Array): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4);
  return bytes.toString('base64');
}

export function openaiRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { embedder, schemas } = ctx;

  app.post('/v1/embeddings', { schema: schemas.openaiEmbeddings, config: { rateLimit: ctx.rateLimit.single } }, async (request) => {
    const body = request.body as OpenAiBody;
    const many = Array.isArray(body.input);
    const texts: readonly string[] = many ? (body.input as readonly string[]) : [body.input as string];
    const field = (i: number) => (many ? `input[${i}]` : 'input');
    texts.forEach((t, i) => {
      const problem = textProblem(t, field(i));
      if (problem) throw badRequest(problem);
    });
    const { info } = ctx.model.encoder();
    if (body.dimensions !== undefined && body.dimensions !== info.dimensions) {
      throw badRequest(`dimensions must be ${info.dimensions} (the model's size) or left out; got ${body.dimensions}`);
    }
    const role = body.input_type;
    const { outcomes, tokens, encoder } = await embedder.embed(
      texts.map((text) => (role ? { text, role } : resolveAsGiven(text, info.prompts, 'document'))),
    );
    const base64 = body.encoding_format === 'base64';
    const data = outcomes.map((o, index) => {
      if (!o.ok) throw badRequest(`${field(index)} cannot be embedded: ${o.error}`);
      return { object: 'embedding', index, embedding: base64 ? float32Base64(o.vector) : Array.from(o.vector) };
    });
    return { object: 'list', data, model: encoder.info.name, usage: { prompt_tokens: tokens, total_tokens: tokens } };
  });

  app.get('/v1/models', { schema: { tags: ['compatibility'], summary: 'OpenAI-compatible model list (the one loaded model)' } }, async () => {
    const { info } = ctx.model.encoder();
    return { object: 'list', data: [{ id: info.name, object: 'model', created: 0, owned_by: 'embedsync' }] };
  });
}
