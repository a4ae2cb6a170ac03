// Building blocks of the route schemas: the strict error body of each API dialect and the status codes each kind
// of route can answer, so every route documents exactly what the server sends (checked by test/http-contract).
import { ERROR_KINDS, OPENAI_ERROR_TYPES, TEI_ERROR_TYPES, type Dialect } from './errors.ts';

const requestId = {
  type: 'string', minLength: 1, description: 'also in the X-Request-Id header; quote it when reporting a problem',
} as const;

export const ERROR_SCHEMAS = {
  native: {
    type: 'object', required: ['detail', 'request_id'], additionalProperties: false,
    properties: { detail: { type: 'string' }, request_id: requestId },
  },
  openai: {
    type: 'object', required: ['error', 'request_id'], additionalProperties: false,
    properties: {
      error: {
        type: 'object', required: ['message', 'type', 'param', 'code'], additionalProperties: false,
        properties: {
          message: { type: 'string' }, type: { type: 'string', enum: OPENAI_ERROR_TYPES },
          param: { type: 'null' }, code: { type: 'string', enum: [...ERROR_KINDS] },
        },
      },
      request_id: requestId,
    },
  },
  tei: {
    type: 'object', required: ['error', 'error_type', 'request_id'], additionalProperties: false,
    properties: { error: { type: 'string' }, error_type: { type: 'string', enum: TEI_ERROR_TYPES }, request_id: requestId },
  },
} as const;

const WHY: Readonly<Record<number, string>> = {
  400: 'Invalid request: the message names the field and the limit',
  401: 'API key missing or wrong (only when API_KEY is set)',
  404: 'Not found',
  408: 'Request body not received within BODY_TIMEOUT_SECONDS',
  413: 'Request body larger than this route accepts',
  415: 'Content-Type is not JSON',
  429: 'Rate limit exceeded (Retry-After says when to retry)',
  500: 'Internal error: the body carries only the request id',
  503: 'Model loading, server busy, encode timeout or dependency down (Retry-After says when to retry)',
};

/** Statuses by kind of route: any route reading a body, any route behind the key and rate limit, encoding. */
export const BODY_ERRORS = [400, 408, 413, 415] as const;
export const GUARDED_ERRORS = [401, 429, 500] as const;
export const EMBED_ERRORS = [...BODY_ERRORS, ...GUARDED_ERRORS, 503] as const;

/** Error responses for `codes`, in the dialect(s) the route answers in. */
export function errorResponses(dialects: readonly Dialect[], codes: readonly number[]): Record<number, object> {
  const schema = dialects.length === 1 ? ERROR_SCHEMAS[dialects[0]!] : { oneOf: dialects.map((d) => ERROR_SCHEMAS[d]) };
  return Object.fromEntries(codes.map((c) => [c, { description: WHY[c] ?? 'Error', ...schema }]));
}

export const vector = { type: 'array', items: { type: 'number' }, minItems: 1, description: 'L2-normalized float32 values' } as const;
