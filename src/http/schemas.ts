// JSON schemas for every route: Fastify validates requests with them, and @fastify/swagger publishes the same
// objects as /openapi.json, so the docs cannot drift from the checks. Responses are documented (and checked by the
// contract test), not used to serialize: what a schema says is what the server sends, never a filtered copy.
import type { HttpConfig } from '../config/index.ts';
import { ROLES } from '../encoder/types.ts';
import { OPENAI_MAX_INPUTS } from './body-limits.ts';
import { EMBED_ERRORS, GUARDED_ERRORS, errorResponses, vector } from './schema-parts.ts';
import { PROMPT_NAMES, TEXT_RULES } from './text-checks.ts';

export const TAGS = { embed: 'embeddings', search: 'search', compat: 'compatibility', ops: 'operations', cache: 'cache' } as const;

/** Most rows POST /search returns (k). */
export const MAX_SEARCH_K = 1000;

/** TEI's truncation_direction values: Left keeps the prompt and the end of an over-long input (local encoder). */
export const TRUNCATION_DIRECTIONS = ['Right', 'right', 'Left', 'left'] as const;

export function buildSchemas(http: HttpConfig) {
  const plainText = {
    type: 'string', maxLength: http.maxTextLength,
    description: `Text to embed, at most ${http.maxTextLength} characters (MAX_TEXT_LENGTH)`,
  } as const;
  const text = {
    ...plainText, minLength: 1, allOf: TEXT_RULES.map((r) => ({ pattern: r.pattern })),
    description: `Text to embed, 1 to ${http.maxTextLength} characters (MAX_TEXT_LENGTH), not only whitespace, no NUL `
      + 'characters, no unpaired surrogates',
  } as const;
  const role = {
    type: 'string', enum: [...ROLES],
    description: 'query adds the model\'s query prompt, document its document prompt',
  } as const;
  const textList = (max: number, what: string) => ({
    type: 'array', items: text, minItems: 1, maxItems: max, description: `1 to ${max} texts (${what})`,
  } as const);
  const modelFields = {
    model_version: { type: 'string', description: 'embedsync version that produced the vector' },
    model_checksum: { type: 'string', description: 'identity of weights, tokenizer, pooling and prompts' },
  } as const;
  const teiFields = {
    inputs: { anyOf: [text, textList(http.maxBatchSize, 'MAX_BATCH_SIZE')], description: 'one text or a list' },
    prompt_name: {
      type: ['string', 'null'], enum: [...Object.keys(PROMPT_NAMES), null],
      description: 'which prompt to apply (query/search_query, document/search_document/passage)',
    },
    normalize: { type: 'boolean', description: 'must be true (vectors are always L2-normalized)' },
    truncate: { type: 'boolean', description: 'accepted; inputs are always cut to the model\'s max_input_length' },
    truncation_direction: {
      type: 'string', enum: [...TRUNCATION_DIRECTIONS],
      description: 'Which end of an input longer than max_input_length is cut: Right (the default) or Left ' +
        '(keeps the end; the prompt is kept either way; local encoder only, 400 with a remote backend)',
    },
  } as const;
  const vectors = { type: 'array', items: vector, minItems: 1, description: 'one vector per input, in input order' } as const;

  const pickedModel = {
    type: 'string', maxLength: 1000,
    description: 'which loaded model embeds (GET /v1/models lists them; a process serving tables on several models has several); ' +
      'default the configured one',
  } as const;
  const embed = {
    tags: [TAGS.embed],
    operationId: 'embed',
    summary: 'Embed one text (also accepts TEI\'s { inputs } shape)',
    description: 'Native shape: { text, role? } (role defaults to query). TEI shape: { inputs: string | string[], '
      + 'prompt_name? } answers with a bare array of vectors, like text-embeddings-inference. Without prompt_name, '
      + 'TEI inputs that already start with one of the model\'s prompts are embedded exactly as given. The body '
      + 'limit fits one text; send many texts to /embed/batch, / or /v1/embeddings. Exactly one of text or inputs.',
    body: {
      type: 'object',
      properties: { text, role, model: pickedModel, ...teiFields },
      anyOf: [{ required: ['text'] }, { required: ['inputs'] }],
      not: { type: 'object', required: ['text', 'inputs'] },
    },
    response: {
      200: {
        description: 'Native: one vector with its model identity. TEI shape: an array of vectors.',
        anyOf: [
          {
            type: 'object', additionalProperties: false,
            required: ['embedding', 'dimensions', 'model_version', 'model_checksum', 'cached'],
            properties: { embedding: vector, dimensions: { type: 'integer', minimum: 1 }, ...modelFields, cached: { type: 'boolean' } },
          },
          vectors,
        ],
      },
      ...errorResponses(['native', 'tei'], EMBED_ERRORS),
    },
  } as const;

  const teiEmbed = (operationId: string, summary: string) => ({
    tags: [TAGS.compat],
    operationId,
    summary,
    description: 'TEI\'s embed: { inputs, prompt_name?, normalize?, truncate?, truncation_direction? } → array of vectors.',
    body: { type: 'object', required: ['inputs'], properties: teiFields },
    response: { 200: { ...vectors, description: 'One vector per input' }, ...errorResponses(['tei'], EMBED_ERRORS) },
  } as const);

  const batchItemOk = {
    type: 'object', required: ['id', 'embedding', 'cached'], additionalProperties: false,
    properties: { id: { type: 'string' }, embedding: vector, cached: { type: 'boolean' } },
  } as const;
  const batchItemFailed = {
    type: 'object', required: ['id', 'embedding', 'cached', 'error'], additionalProperties: false,
    properties: {
      id: { type: 'string' }, embedding: { type: 'null' }, cached: { type: 'boolean', enum: [false] },
      error: { type: 'string', description: 'why this item has no vector' },
    },
  } as const;
  const embedBatch = {
    tags: [TAGS.embed],
    operationId: 'embedBatch',
    summary: 'Embed many texts; only cache misses are encoded, in one encoder call',
    description: 'An item that cannot be embedded (empty, only whitespace, a NUL character, an unpaired surrogate, '
      + 'refused by the model) comes back with embedding null and an error, without failing the others.',
    body: {
      type: 'object',
      required: ['items'],
      properties: {
        items: {
          type: 'array', minItems: 1, maxItems: http.maxBatchSize,
          description: `1 to ${http.maxBatchSize} items (MAX_BATCH_SIZE)`,
          items: {
            type: 'object', required: ['id', 'text'],
            properties: { id: { type: 'string', description: 'caller\'s id, echoed back' }, text: plainText },
          },
        },
        role: { ...role, description: `${role.description}; applies to every item (default query)` },
        model: pickedModel,
      },
    },
    response: {
      200: {
        description: 'One result per item, in order',
        type: 'object', additionalProperties: false,
        required: ['results', 'total', 'successful', 'cached_count', 'model_version', 'model_checksum'],
        properties: {
          results: { type: 'array', items: { oneOf: [batchItemOk, batchItemFailed] } },
          total: { type: 'integer', minimum: 1 },
          successful: { type: 'integer', minimum: 0 },
          cached_count: { type: 'integer', minimum: 0 },
          ...modelFields,
        },
      },
      ...errorResponses(['native'], EMBED_ERRORS),
    },
  } as const;

  const openaiEmbeddings = {
    tags: [TAGS.compat],
    operationId: 'createEmbedding',
    summary: 'OpenAI-compatible embeddings',
    description: 'Same request and response as OpenAI\'s POST /v1/embeddings: up to 2048 inputs, encoded '
      + `${http.maxBatchSize} at a time (MAX_BATCH_SIZE); token arrays are refused. base64 is little-endian float32. `
      + 'The prompt: input_type query|document (an extension), or a model alias (see GET /v1/models: '
      + '<model>-query, <model>-document); without either, inputs that already start with one of the model\'s '
      + 'prompts are embedded exactly as given, others get the document prompt. usage counts the tokens fed to the '
      + 'model (cached inputs cost none).',
    body: {
      type: 'object',
      required: ['input'],
      properties: {
        input: { anyOf: [text, textList(OPENAI_MAX_INPUTS, 'OpenAI\'s limit per request')] },
        model: {
          type: 'string',
          description: 'a query/document alias selects that prompt; another loaded model\'s name picks that model ' +
            '(a process serving tables on several models); with one model loaded any other name is accepted and ignored',
        },
        encoding_format: { type: 'string', enum: ['float', 'base64'] },
        dimensions: { type: 'integer', minimum: 1, description: 'must equal the model\'s dimensions' },
        user: { type: 'string' },
        input_type: role,
      },
    },
    response: {
      200: {
        description: 'One embedding per input, in input order',
        type: 'object', additionalProperties: false,
        required: ['object', 'data', 'model', 'usage'],
        properties: {
          object: { type: 'string', enum: ['list'] },
          data: {
            type: 'array',
            items: {
              type: 'object', additionalProperties: false,
              required: ['object', 'index', 'embedding'],
              properties: {
                object: { type: 'string', enum: ['embedding'] },
                index: { type: 'integer', minimum: 0 },
                embedding: {
                  anyOf: [vector, { type: 'string', pattern: '^[A-Za-z0-9+/]+={0,2}$', description: 'base64 little-endian float32' }],
                },
              },
            },
          },
          model: { type: 'string' },
          usage: {
            type: 'object', required: ['prompt_tokens', 'total_tokens'], additionalProperties: false,
            properties: { prompt_tokens: { type: 'integer', minimum: 0 }, total_tokens: { type: 'integer', minimum: 0 } },
          },
        },
      },
      ...errorResponses(['openai'], EMBED_ERRORS),
    },
  } as const;

  const openaiModel = {
    type: 'object', required: ['id', 'object', 'created', 'owned_by'], additionalProperties: false,
    properties: {
      id: { type: 'string' }, object: { type: 'string', enum: ['model'] }, created: { type: 'integer' }, owned_by: { type: 'string' },
    },
  } as const;
  const openaiModels = {
    tags: [TAGS.compat],
    operationId: 'listModels',
    summary: 'OpenAI-compatible model list: the loaded model and its query/document aliases',
    response: {
      200: {
        description: 'The model and its aliases',
        type: 'object', required: ['object', 'data'], additionalProperties: false,
        properties: { object: { type: 'string', enum: ['list'] }, data: { type: 'array', items: openaiModel } },
      },
      ...errorResponses(['openai'], [...GUARDED_ERRORS, 503]),
    },
  } as const;
  const openaiModelById = {
    tags: [TAGS.compat],
    operationId: 'retrieveModel',
    summary: 'OpenAI-compatible model lookup (ids may contain slashes)',
    params: { type: 'object', properties: { '*': { type: 'string' } } },
    response: {
      200: { description: 'The model or alias', ...openaiModel },
      ...errorResponses(['openai'], [...GUARDED_ERRORS, 404, 503]),
    },
  } as const;

  const modelInfo = {
    tags: [TAGS.ops],
    operationId: 'modelInfo',
    summary: 'The loaded model and the request limits',
    response: {
      200: {
        description: 'Model identity and limits',
        type: 'object', additionalProperties: false,
        required: ['name', 'backend', 'dimensions', 'pooling', 'normalize', 'prompts', 'max_tokens', 'checksum', 'version', 'file',
          'load_time_seconds', 'limits'],
        properties: {
          name: { type: 'string' }, backend: { type: 'string' }, dimensions: { type: 'integer' },
          pooling: { type: 'string' }, normalize: { type: 'boolean' },
          prompts: {
            type: 'object', required: ['query', 'document'], additionalProperties: false,
            properties: { query: { type: 'string' }, document: { type: 'string' } },
          },
          max_tokens: { type: 'integer' }, checksum: { type: 'string' }, version: { type: 'string' },
          file: { type: 'string' }, load_time_seconds: { type: 'number' },
          limits: {
            type: 'object', additionalProperties: false,
            required: ['max_batch_size', 'max_text_length', 'max_concurrent_requests', 'body_limit_bytes'],
            properties: {
              max_batch_size: { type: 'integer' }, max_text_length: { type: 'integer' },
              max_concurrent_requests: { type: 'integer' }, body_limit_bytes: { type: 'integer' },
            },
          },
        },
      },
      ...errorResponses(['native'], [...GUARDED_ERRORS, 503]),
    },
  } as const;

  const teiInfo = {
    tags: [TAGS.compat],
    operationId: 'teiInfo',
    summary: 'TEI-compatible /info',
    description: 'model_sha carries the model checksum, so TEI clients can tell models apart.',
    response: {
      200: {
        description: 'TEI\'s model information',
        type: 'object', additionalProperties: false,
        required: ['model_id', 'model_sha', 'model_dtype', 'model_type', 'max_concurrent_requests', 'max_input_length',
          'max_batch_tokens', 'max_client_batch_size', 'tokenization_workers', 'version'],
        properties: {
          model_id: { type: 'string' }, model_sha: { type: 'string' }, model_dtype: { type: 'string' },
          model_type: { type: 'object', additionalProperties: true },
          max_concurrent_requests: { type: 'integer' }, max_input_length: { type: 'integer' },
          max_batch_tokens: { type: 'integer' }, max_client_batch_size: { type: 'integer' },
          tokenization_workers: { type: 'integer' }, version: { type: 'string' },
        },
      },
      ...errorResponses(['tei'], [...GUARDED_ERRORS, 503]),
    },
  } as const;

  const search = {
    tags: [TAGS.search],
    operationId: 'search',
    summary: 'Rows of a synced table for a query text: embed, then the table\'s SQL search function, in one call',
    description: 'Embeds query with the model\'s query prompt (through the cache), then runs embedsync.<table>_search '
      + '(hybrid false: nearest by cosine, score = 1 - cosine distance) or embedsync.<table>_hybrid_search (hybrid true: '
      + 'full-text and vector ranks fused by reciprocal rank fusion; the query is also a web-search-style full-text '
      + 'query) and answers exactly what that function answers in SQL. table defaults to the server\'s EMBEDSYNC_TABLE '
      + 'and must hold vectors of this server\'s model.',
    body: {
      type: 'object',
      required: ['query'],
      additionalProperties: false,
      properties: {
        query: { ...text, description: `The search text, 1 to ${http.maxTextLength} characters (MAX_TEXT_LENGTH)` },
        k: { type: 'integer', minimum: 1, maximum: MAX_SEARCH_K, description: `rows to return, 1 to ${MAX_SEARCH_K} (default 10)` },
        table: { type: 'string', minLength: 1, maxLength: 127, description: 'table or schema.table (default: EMBEDSYNC_TABLE)' },
        hybrid: { type: 'boolean', description: 'fuse full-text and vector ranks (default false: vector only)' },
        min_score: { type: 'number', minimum: -1, maximum: 1, description: 'vector search only: leave out rows scoring below (default 0)' },
        text_weight: { type: 'number', minimum: 0, maximum: 100, description: 'hybrid only: weight of the full-text rank (default 1)' },
        vector_weight: { type: 'number', minimum: 0, maximum: 100, description: 'hybrid only: weight of the vector rank (default 1)' },
      },
    },
    response: {
      200: {
        description: 'The rows, best first, and the model that embedded the query',
        type: 'object', additionalProperties: false,
        required: ['results', 'model_checksum', 'cached'],
        properties: {
          results: {
            type: 'array',
            items: {
              type: 'object', additionalProperties: false, required: ['id', 'score'],
              properties: {
                id: { type: 'string', description: 'the row\'s id in its text form' },
                score: { type: 'number', description: 'vector: 1 - cosine distance; hybrid: the fused score' },
                text_rank: { type: ['integer', 'null'], description: 'hybrid: rank by full text (null: no match among the candidates)' },
                vector_rank: { type: ['integer', 'null'], description: 'hybrid: rank by vector (null: not among the candidates)' },
              },
            },
          },
          model_checksum: modelFields.model_checksum,
          cached: { type: 'boolean', description: 'the query vector came from the cache' },
        },
      },
      ...errorResponses(['native'], EMBED_ERRORS),
    },
  } as const;

  return {
    embed, embedBatch, search, openaiEmbeddings, openaiModels, openaiModelById, modelInfo, teiInfo,
    teiRoot: teiEmbed('teiEmbedRoot', 'TEI-compatible embed at the server root (POST /)'),
    teiInvocations: teiEmbed('teiEmbedInvocations', 'TEI-compatible embed (POST /invocations, as on SageMaker)'),
  };
}

export type Schemas = ReturnType<typeof buildSchemas>;
