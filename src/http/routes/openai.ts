// POST /v1/embeddings, GET /v1/models and GET /v1/models/{id} in OpenAI's shapes, so OpenAI SDKs and the tools
// built on them (LangChain, LlamaIndex) work unchanged.
import type { FastifyInstance } from 'fastify';
import type { ModelInfo, Role } from '../../encoder/types.ts';
import { encodeDeadline, type RouteContext } from '../context.ts';
import { badRequest, HttpError } from '../errors.ts';
import { resolveAsGiven, textProblem } from '../text-checks.ts';
import type { EmbedOutcome } from '../embedder.ts';
import { loadedModelNames, pickModel } from '../model-pick.ts';

interface OpenAiBody {
  readonly input: string | readonly string[];
  readonly model?: string;
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

/**
 * Model names that pick a prompt, for clients that cannot send input_type (LangChain's OpenAIEmbeddings: one
 * instance per alias). OPENAI_QUERY_MODEL / OPENAI_DOCUMENT_MODEL, else `<model>-query` / `<model>-document`.
 */
export function modelAliases(ctx: RouteContext, info: ModelInfo): Readonly<Record<Role, string>> {
  const { query, document } = ctx.config.http.modelAliases;
  return { query: query ?? `${info.name}-query`, document: document ?? `${info.name}-document` };
}

/** OpenAI accepts token arrays (lists of token ids) too; they mean nothing to this model's tokenizer. */
function isTokenArray(input: unknown): boolean {
  return Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'number' || Array.isArray(x));
}

export function openaiRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { embedder, schemas } = ctx;
  const chunk = ctx.config.http.maxBatchSize;

  app.post('/v1/embeddings', {
    schema: schemas.openaiEmbeddings, bodyLimit: ctx.bodyLimits.batch,
    config: { rateLimit: ctx.rateLimit.single, needsModel: true, encodes: true },
    // Before the schema, whose message ("input[0] must be a string") would not say what is wrong.
    preValidation: async (request) => {
      const body = request.body as { input?: unknown } | undefined;
      if (body && typeof body === 'object' && isTokenArray(body.input)) {
        throw badRequest('input is a token array: this server accepts text only (a string or an array of strings); send the text itself');
      }
    },
  }, async (request, reply) => {
    const body = request.body as OpenAiBody;
    const many = Array.isArray(body.input);
    const texts: readonly string[] = many ? (body.input as readonly string[]) : [body.input as string];
    const field = (i: number) => (many ? `input[${i}]` : 'input');
    texts.forEach((t, i) => {
      const problem = textProblem(t, field(i));
      if (problem) throw badRequest(problem);
    });
    const own = ctx.model.encoder().info;
    const picked = pickModel(ctx, body.model, { keep: Object.values(modelAliases(ctx, own)), lenient: true });
    const { info } = picked ?? ctx.model.encoder();
    if (body.dimensions !== undefined && body.dimensions !== info.dimensions) {
      throw badRequest(`dimensions must be ${info.dimensions} (the model's size) or left out; got ${body.dimensions}`);
    }
    const aliases = modelAliases(ctx, info);
    const aliasRole = (Object.keys(aliases) as Role[]).find((r) => aliases[r] === body.model);
    if (aliasRole && body.input_type && body.input_type !== aliasRole) {
      throw badRequest(`model ${body.model} selects the ${aliasRole} prompt but input_type is ${body.input_type}; send one of them`);
    }
    const role = body.input_type ?? aliasRole;
    const inputs = texts.map((text) => (role ? { text, role } : resolveAsGiven(text, info.prompts, 'document')));
    // Encoded MAX_BATCH_SIZE at a time, one after another: a 2048-input request holds one encode slot at a time
    // (others' requests interleave), and all of it shares one ENCODE_TIMEOUT_SECONDS deadline.
    const deadline = encodeDeadline(ctx, reply);
    const outcomes: EmbedOutcome[] = [];
    let tokens = 0;
    let encoder = ctx.model.encoder();
    for (let from = 0; from < inputs.length; from += chunk) {
      const r = await embedder.embed(inputs.slice(from, from + chunk), deadline, 'right', picked);
      outcomes.push(...r.outcomes);
      tokens += r.tokens;
      encoder = r.encoder;
    }
    const base64 = body.encoding_format === 'base64';
    const data = outcomes.map((o, index) => {
      if (!o.ok) throw badRequest(`${field(index)} cannot be embedded: ${o.error}`);
      return { object: 'embedding', index, embedding: base64 ? float32Base64(o.vector) : Array.from(o.vector) };
    });
    return {
      object: 'list', data, model: body.model && aliasRole ? body.model : encoder.info.name,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  });

  const models = () => {
    const { info } = ctx.model.encoder();
    const aliases = modelAliases(ctx, info);
    return [info.name, aliases.query, aliases.document, ...loadedModelNames(ctx).slice(1)]
      .map((id) => ({ id, object: 'model', created: 0, owned_by: 'embedsync' }));
  };

  app.get('/v1/models', { schema: schemas.openaiModels, config: { needsModel: true } }, async () => ({ object: 'list', data: models() }));

  // A wildcard, as model ids are often paths or hub ids with slashes (sent as %2F or as they are).
  app.get('/v1/models/*', { schema: schemas.openaiModelById, config: { needsModel: true } }, async (request) => {
    const id = (request.params as { '*': string })['*'];
    const found = models().find((m) => m.id === id);
    if (!found) {
      throw new HttpError('not_found', `model ${JSON.stringify(id.slice(0, 200))} not found; GET /v1/models lists the ones served here`);
    }
    return found;
  });
}
