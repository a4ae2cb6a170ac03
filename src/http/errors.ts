// One error shape per API dialect, never a stack trace: the old service's { detail }, OpenAI's { error: {...} }
// for /v1/*, TEI's { error, error_type } for TEI-shaped requests. Every body carries the request id.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export const ERROR_KINDS = [
  'validation', 'too_large', 'unsupported_media', 'auth', 'not_found', 'method_not_allowed', 'body_timeout', 'rate_limit',
  'overloaded', 'timeout', 'unavailable', 'internal',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

const STATUS: Readonly<Record<ErrorKind, number>> = {
  validation: 400, too_large: 413, unsupported_media: 415, auth: 401, not_found: 404, method_not_allowed: 405, body_timeout: 408,
  rate_limit: 429, overloaded: 503, timeout: 503, unavailable: 503, internal: 500,
};

export class HttpError extends Error {
  override name = 'HttpError';
  readonly statusCode: number;
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.statusCode = STATUS[kind];
  }
}

export const badRequest = (message: string) => new HttpError('validation', message);

export const DIALECTS = ['native', 'openai', 'tei'] as const;
export type Dialect = (typeof DIALECTS)[number];

/** TEI's own routes; POST /embed speaks TEI when the body has TEI's { inputs }. */
export const TEI_ROUTES: ReadonlySet<string> = new Set(['/', '/invocations', '/info']);

export function dialectOf(request: FastifyRequest): Dialect {
  const url = request.routeOptions.url ?? request.url;
  if (url.startsWith('/v1/')) return 'openai';
  if (TEI_ROUTES.has(url)) return 'tei';
  const body = request.body as { inputs?: unknown } | undefined;
  if (url === '/embed' && body && typeof body === 'object' && 'inputs' in body) return 'tei';
  return 'native';
}

const OPENAI_TYPE: Readonly<Record<ErrorKind, string>> = {
  validation: 'invalid_request_error', too_large: 'invalid_request_error', unsupported_media: 'invalid_request_error',
  auth: 'authentication_error', not_found: 'invalid_request_error', method_not_allowed: 'invalid_request_error',
  body_timeout: 'invalid_request_error', rate_limit: 'rate_limit_error',
  overloaded: 'server_error', timeout: 'server_error', unavailable: 'server_error', internal: 'server_error',
};
const TEI_TYPE: Readonly<Record<ErrorKind, string>> = {
  validation: 'Validation', too_large: 'Validation', unsupported_media: 'Validation', auth: 'Unauthorized',
  not_found: 'Validation', method_not_allowed: 'Validation', body_timeout: 'Validation', rate_limit: 'Overloaded', overloaded: 'Overloaded',
  timeout: 'Backend', unavailable: 'Unhealthy', internal: 'Backend',
};

/** The values each dialect's error type takes, for the OpenAPI error schemas. */
export const OPENAI_ERROR_TYPES = [...new Set(Object.values(OPENAI_TYPE))];
export const TEI_ERROR_TYPES = [...new Set(Object.values(TEI_TYPE))];

export function errorBody(request: FastifyRequest, kind: ErrorKind, message: string): object {
  switch (dialectOf(request)) {
    case 'openai':
      return { error: { message, type: OPENAI_TYPE[kind], param: null, code: kind }, request_id: request.id };
    case 'tei':
      return { error: message, error_type: TEI_TYPE[kind], request_id: request.id };
    default:
      return { detail: message, request_id: request.id };
  }
}

/** Fastify's own errors (body parsing, limits) mapped to our kinds; anything unknown is internal. */
function classify(err: FastifyError): { kind: ErrorKind; message: string } {
  if (err instanceof HttpError) return { kind: err.kind, message: err.message };
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { kind: 'too_large', message: err.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { kind: 'unsupported_media', message: 'Content-Type must be application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { kind: 'validation', message: 'request body is empty; send a JSON object' };
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return { kind: status === 404 ? 'not_found' : 'validation', message: err.message };
  return { kind: 'internal', message: '' };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, err: FastifyError): FastifyReply {
  const { kind, message } = classify(err);
  if (kind === 'internal') {
    // The details go to the log under the request id; the client gets only the id.
    request.log.error({ err, event: 'internal_error' }, 'internal_error');
    const text = `internal error; quote request id ${request.id} when reporting it`;
    return reply.code(500).send(errorBody(request, kind, text));
  }
  if (err instanceof HttpError) reply.headers(err.headers);
  return reply.code(STATUS[kind]).send(errorBody(request, kind, message));
}
