// Builds the Fastify app: parsers, hooks, plugins and routes, in the order their hooks must run
// (request id → rate limit → auth → body → validation → handler).
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { EmbeddingCache } from '../cache/index.ts';
import { installHttpTracing } from '../tracing/index.ts';
import { createKeyCheck } from './auth.ts';
import { bodyLimits } from './body-limits.ts';
import { recordRouteMethods } from './route-methods.ts';
import { installJsonParser, tooLarge } from './body-parser.ts';
import type { RouteContext } from './context.ts';
import type { HttpDeps } from './deps.ts';
import { Embedder } from './embedder.ts';
import { HttpError, sendError } from './errors.ts';
import { ConcurrencyLimiter } from './limiter.ts';
import { ModelReadiness } from './model-readiness.ts';
import { observeRequests, requestId } from './observe.ts';
import { installOpenApi } from './openapi.ts';
import { installRateLimit, rateLimits } from './rate-limit.ts';
import { buildSchemas } from './schemas.ts';
import { validationError } from './validation.ts';
import { cacheRoutes } from './routes/cache.ts';
import { embedRoutes } from './routes/embed.ts';
import { openaiRoutes } from './routes/openai.ts';
import { opsRoutes } from './routes/ops.ts';
import { searchRoutes } from './routes/search.ts';
import { teiRoutes } from './routes/tei.ts';

/** Headers the official OpenAI SDKs send (a browser asks the CORS preflight for them). */
const OPENAI_SDK_HEADERS = [
  'OpenAI-Organization', 'OpenAI-Project', 'OpenAI-Beta', 'X-Stainless-Arch', 'X-Stainless-Lang', 'X-Stainless-OS',
  'X-Stainless-Package-Version', 'X-Stainless-Retry-Count', 'X-Stainless-Runtime', 'X-Stainless-Runtime-Version',
  'X-Stainless-Timeout', 'X-Stainless-Async', 'X-Stainless-Helper-Method', 'X-Stainless-Poll-Helper',
  'X-Stainless-Custom-Poll-Interval',
] as const;

/** A body at least this big is refused unread when no encode slot or queue place is free (reading and parsing
 *  it would cost more than the cache lookup it could at best hit). Smaller ones still get that lookup. */
const EARLY_REFUSAL_BYTES = 65_536;

declare module 'fastify' {
  interface FastifyInstance {
    /** The model's readiness and the cache, for the process that runs the app (and tests). */
    embedsync: {
      readonly model: ModelReadiness;
      readonly cache: EmbeddingCache;
      readonly limiter: ConcurrencyLimiter;
      /** Resolves once the model is loaded and warmed up, or has failed to (see model.phase). */
      readonly ready: Promise<void>;
    };
  }
}

export async function buildApp(deps: HttpDeps): Promise<FastifyInstance> {
  const { config, metrics, logger } = deps;
  const http = config.http;

  const limits = bodyLimits(http);
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // observe.ts writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: requestId,
    // Routes that take text set their own; the rest take at most a small JSON object.
    bodyLimit: limits.small,
    // Backstop for bodies nobody reads (answered before parsing); the parser itself stops at BODY_TIMEOUT_SECONDS.
    requestTimeout: Math.max(60_000, http.bodyTimeoutMs + 10_000),
    trustProxy: typeof http.trustProxy === 'boolean' ? http.trustProxy : [...http.trustProxy],
    // verbose: a failed `not` carries its schema, so the message can name the fields that exclude each other.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, verbose: true } },
    schemaErrorFormatter: (errors) => validationError(errors),
  });

  // First hook of all, so every later hook, the handler and its log lines run inside the request's span.
  installHttpTracing(app);

  const model = new ModelReadiness(deps.encoder, {
    modelName: config.model.model,
    logger,
    onReady: () => metrics.modelLoaded.set(1),
  });
  metrics.modelLoaded.set(0);
  const cache = new EmbeddingCache(config.cache, { logger, hits: metrics.cacheHits, misses: metrics.cacheMisses });
  const limiter = new ConcurrencyLimiter({
    maxConcurrent: http.maxConcurrentRequests,
    maxQueued: http.maxQueuedRequests,
    timeoutMs: http.encodeTimeoutMs,
    onActive: (n) => metrics.activeRequests.set(n),
  });
  app.decorate('embedsync', { model, cache, limiter, ready: model.ready });
  app.addHook('onClose', async () => cache.close());
  // A request in flight when shutdown begins keeps its keep-alive connection, which close() would then wait on
  // until the client's idle timeout (72 s with Node's fetch): its answer says the connection ends with it.
  let closing = false;
  app.addHook('preClose', async () => { closing = true; });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  try {
    installJsonParser(app, { limits, timeoutMs: http.bodyTimeoutMs });
    // Response schemas document (and the contract test checks) what is sent; they never filter it.
    app.setSerializerCompiler(() => (data) => JSON.stringify(data));
    app.setErrorHandler((err: FastifyError, request, reply) => {
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return sendError(request, reply, tooLarge(request.routeOptions.bodyLimit ?? limits.small, limits,
          request.routeOptions.config.teiShape === true) as unknown as FastifyError);
      }
      return sendError(request, reply, err);
    });
    const methodsOf = recordRouteMethods(app);
    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?', 1)[0]!;
      const methods = methodsOf(path);
      const err = methods.length > 0
        ? new HttpError('method_not_allowed', `${request.method} is not served on ${path.slice(0, 200)}; it answers ${methods.join(', ')}`,
          { allow: methods.join(', ') })
        : new HttpError('not_found', `no route ${request.method} ${path.slice(0, 200)}`);
      return sendError(request, reply, err as unknown as FastifyError);
    });

    observeRequests(app, metrics);
    const keys = createKeyCheck(http.apiKey);
    await installRateLimit(app, http, keys);
    // After every onRequest hook (rate limiting included) and before the body is read.
    app.addHook('preParsing', async (request) => {
      keys.check(request);
      if (request.routeOptions.config.encodes && limiter.full &&
        Number(request.headers['content-length'] ?? EARLY_REFUSAL_BYTES) >= EARLY_REFUSAL_BYTES) {
        const busy = limiter.overloaded();
        throw new HttpError('overloaded', busy.message, { 'retry-after': String(busy.retryAfterSeconds) });
      }
    });
    app.addHook('preHandler', async (request) => {
      if (request.routeOptions.config.needsModel) await model.waitReady(http.modelWaitMs);
    });

    await app.register(cors, {
      origin: http.allowedOrigins.includes('*') ? '*' : [...http.allowedOrigins],
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['Content-Type', 'Authorization', 'X-API-Key', 'X-Request-Id', 'X-Requested-With', ...OPENAI_SDK_HEADERS],
      exposedHeaders: ['Retry-After', 'X-Request-Id', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
      maxAge: 600,
    });

    await installOpenApi(app, http, model);

    const schemas = buildSchemas(http);
    const ctx: RouteContext = {
      config, model, cache, metrics, schemas,
      embedder: new Embedder({ model, cache, limiter, metrics }),
      status: deps.status,
      db: deps.db,
      notReady: deps.notReady,
      otherModels: deps.otherModels,
      rateLimit: rateLimits(http),
      bodyLimits: limits,
    };
    embedRoutes(app, ctx);
    searchRoutes(app, ctx);
    openaiRoutes(app, ctx);
    teiRoutes(app, ctx);
    opsRoutes(app, ctx);
    cacheRoutes(app, ctx);

    await app.ready();
  } catch (err) {
    await app.close().catch(() => undefined); // releases the Redis connection
    throw err;
  }
  return app;
}
