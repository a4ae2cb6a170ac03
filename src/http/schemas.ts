// JSON schemas for every route: Fastify validates requests and serializes responses with them, and
// @fastify/swagger publishes the same objects as /openapi.json, so the docs cannot drift from the checks.
import type { HttpConfig } from '../config/index.ts';
import { ROLES } from '../encoder/types.ts';
import { PROMPT_NAMES } from './text-checks.ts';

export const TAGS = { embed: 'embeddings', compat: 'compatibility', ops: 'operations', cache: 'cache' } as const;

const vector = { type: 'array', items: { type: 'number' }, description: 'L2-normalized float32 values' } as const;

const errorResponse = {
  type: 'object',
  description: 'Error; OpenAI routes use { error: { message, type } }, TEI-shaped requests { error, error_type }',
  properties: { detail: { type: 'string' }, request_id: { type: 'string' } },
  additionalProperties: true,
} as const;

function errors(...codes: number[]): Record<number, typeof errorResponse> {
  return Object.fromEntries(codes.map((c) => [c, errorResponse]));
}

const COMMON_ERRORS = [400, 401, 413, 429, 500, 503] as const;

export function buildSchemas(http: HttpConfig) {
  const text = {
    type: 'string', minLength: 1, maxLength: http.maxTextLength,
    description: `Text to embed, 1 to ${http.maxTextLength} characters (MAX_TEXT_LENGTH). No NUL characters.`,
  } as const;
  const role = {
    type: 'string', enum: [...ROLES],
    description: 'query adds the model\'s query prompt, document its document prompt',
  } as const;
  const textList = {
    type: 'array', items: text, minItems: 1, maxItems: http.maxBatchSize,
    description: `1 to ${http.maxBatchSize} texts (MAX_BATCH_SIZE)`,
  } as const;
  const modelFields = {
    model_version: { type: 'string', description: 'embedsync version that produced the vector' },
    model_checksum: { type: 'string', description: 'identity of weights, tokenizer, pooling and prompts' },
  } as const;

  const embed = {
    tags: [TAGS.embed],
    summary: 'Embed one text (also accepts TEI\'s { inputs } shape)',
    description: 'Native shape: { text, role? } (role defaults to query). TEI shape: { inputs: string | string[], '
      + 'prompt_name? } answers with a bare array of vectors, like text-embeddings-inference. Without prompt_name, '
      + 'TEI inputs that already start with one of the model\'s prompts are embedded exactly as given.',
    body: {
      type: 'object',
      properties: {
        text,
        role,
        inputs: { anyOf: [text, textList], description: 'TEI shape: one text or a list' },
        prompt_name: {
          type: ['string', 'null'], enum: [...Object.keys(PROMPT_NAMES), null],
          description: 'TEI shape: which prompt to apply (query/search_query, document/search_document/passage)',
        },
        normalize: { type: 'boolean', description: 'TEI shape: must be true (vectors are always L2-normalized)' },
        truncate: { type: 'boolean', description: 'TEI shape: accepted; inputs are always cut to the model max length' },
        truncation_direction: { type: 'string', enum: ['Right', 'right'] },
      },
    },
    response: {
      200: {
        description: 'Native: one vector with its model identity. TEI shape: an array of vectors.',
        anyOf: [
          {
            type: 'object',
            required: ['embedding', 'dimensions', 'model_version', 'model_checksum', 'cached'],
            properties: { embedding: vector, dimensions: { type: 'integer' }, ...modelFields, cached: { type: 'boolean' } },
          },
          { type: 'array', items: vector },
        ],
      },
      ...errors(...COMMON_ERRORS),
    },
  } as const;

  const embedBatch = {
    tags: [TAGS.embed],
    summary: 'Embed many texts; only cache misses are encoded, in one encoder call',
    description: 'An item that cannot be embedded (e.g. a NUL character) comes back with embedding null and an '
      + 'error, without failing the others.',
    body: {
      type: 'object',
      required: ['items'],
      properties: {
        items: {
          ...textList,
          description: `1 to ${http.maxBatchSize} items (MAX_BATCH_SIZE)`,
          items: {
            type: 'object', required: ['id', 'text'],
            properties: { id: { type: 'string', description: 'caller\'s id, echoed back' }, text },
          },
        },
        role: { ...role, description: `${role.description}; applies to every item (default query)` },
      },
    },
    response: {
      200: {
        type: 'object',
        required: ['results', 'total', 'successful', 'cached_count', 'model_version', 'model_checksum'],
        properties: {
          results: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'embedding', 'cached'],
              properties: {
                id: { type: 'string' },
                embedding: { anyOf: [vector, { type: 'null' }] },
                cached: { type: 'boolean' },
                error: { type: 'string', description: 'present when this item failed' },
              },
            },
          },
          total: { type: 'integer' },
          successful: { type: 'integer' },
          cached_count: { type: 'integer' },
          ...modelFields,
        },
      },
      ...errors(...COMMON_ERRORS),
    },
  } as const;

  const openaiEmbeddings = {
    tags: [TAGS.compat],
    summary: 'OpenAI-compatible embeddings',
    description: 'Same request and response as OpenAI\'s POST /v1/embeddings. base64 is little-endian float32. '
      + 'Extension: input_type query|document selects the prompt; without it, inputs that already start with one '
      + 'of the model\'s prompts are embedded exactly as given, others get the document prompt. usage counts the '
      + 'tokens fed to the model (cached inputs cost none).',
    body: {
      type: 'object',
      required: ['input'],
      properties: {
        input: { anyOf: [text, textList] },
        model: { type: 'string', description: 'accepted and ignored: the daemon serves one model' },
        encoding_format: { type: 'string', enum: ['float', 'base64'] },
        dimensions: { type: 'integer', minimum: 1, description: 'must equal the model\'s dimensions' },
        user: { type: 'string' },
        input_type: role,
      },
    },
    response: {
      200: {
        type: 'object',
        required: ['object', 'data', 'model', 'usage'],
        properties: {
          object: { type: 'string', enum: ['list'] },
          data: {
            type: 'array',
            items: {
              type: 'object',
              required: ['object', 'index', 'embedding'],
              properties: {
                object: { type: 'string', enum: ['embedding'] },
                index: { type: 'integer' },
                embedding: { anyOf: [vector, { type: 'string', description: 'base64 little-endian float32' }] },
              },
            },
          },
          model: { type: 'string' },
          usage: {
            type: 'object', required: ['prompt_tokens', 'total_tokens'],
            properties: { prompt_tokens: { type: 'integer' }, total_tokens: { type: 'integer' } },
          },
        },
      },
      ...errors(...COMMON_ERRORS),
    },
  } as const;

  const modelInfo = {
    tags: [TAGS.ops],
    summary: 'The loaded model and the request limits',
    response: {
      200: {
        type: 'object',
        properties: {
          name: { type: 'string' }, backend: { type: 'string' }, dimensions: { type: 'integer' },
          pooling: { type: 'string' }, normalize: { type: 'boolean' },
          prompts: { type: 'object', properties: { query: { type: 'string' }, document: { type: 'string' } } },
          max_tokens: { type: 'integer' }, checksum: { type: 'string' }, version: { type: 'string' },
          file: { type: 'string' }, load_time_seconds: { type: 'number' },
          limits: {
            type: 'object',
            properties: {
              max_batch_size: { type: 'integer' }, max_text_length: { type: 'integer' },
              max_concurrent_requests: { type: 'integer' }, body_limit_bytes: { type: 'integer' },
            },
          },
        },
      },
      ...errors(401, 429, 503),
    },
  } as const;

  const teiInfo = {
    tags: [TAGS.compat],
    summary: 'TEI-compatible /info',
    description: 'model_sha carries the model checksum, so TEI clients can tell models apart.',
    response: {
      200: {
        type: 'object',
        properties: {
          model_id: { type: 'string' }, model_sha: { type: 'string' }, model_dtype: { type: 'string' },
          model_type: { type: 'object', additionalProperties: true },
          max_concurrent_requests: { type: 'integer' }, max_input_length: { type: 'integer' },
          max_batch_tokens: { type: 'integer' }, max_client_batch_size: { type: 'integer' },
          tokenization_workers: { type: 'integer' }, version: { type: 'string' },
        },
      },
      ...errors(401, 429, 503),
    },
  } as const;

  return { embed, embedBatch, openaiEmbeddings, modelInfo, teiInfo, errorResponse };
}

export type Schemas = ReturnType<typeof buildSchemas>;
