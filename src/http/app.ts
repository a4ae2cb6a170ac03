// Builds the Fastify app: parsers, hooks, plugins and routes, in the order their hooks must run
// (request id → rate limit → auth → body → validation → handler).
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { EmbeddingCache } from '../cache/index.ts';
import { installHttpTracing } from '../tracing/index.ts';
import { createKeyCheck } from './auth.ts';
import { installJsonParser } from './body-parser.ts';
import type { RouteContext } from './context.ts';
import type { HttpDeps } from './deps.ts';
import { Embedder } from './embedder.ts';
import { HttpError, sendError } from './errors.ts';
import { ConcurrencyLimiter } from './limiter.ts';
import { ModelState } from './model-state.ts';
import { observeRequests, requestId } from './observe.ts';
import { installOpenApi } from './openapi.ts';
import { installRateLimit, rateLimits } from './rate-limit.ts';
import { buildSchemas } from './schemas.ts';
import { validationError } from './validation.ts';
import { cacheRoutes } from './routes/cache.ts';
import { embedRoutes } from './routes/embed.ts';
import { openaiRoutes } from './routes/openai.ts';
import { opsRoutes } from './routes/ops.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The model's readiness and the cache, for the process that runs the app (and tests). */
    embedsync: {
      readonly model: ModelState;
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

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // observe.ts writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: requestId,
    bodyLimit: http.bodyLimitBytes,
    trustProxy: typeof http.trustProxy === 'boolean' ? http.trustProxy : [...http.trustProxy],
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    schemaErrorFormatter: (errors) => validationError(errors),
  });

  // First hook of all, so every later hook, the handler and its log lines run inside the request's span.
  installHttpTracing(app);

  const model = new ModelState(deps.encoder, {
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

  try {
    installJsonParser(app);
    app.setErrorHandler((err: FastifyError, request, reply) => {
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return sendError(request, reply, new HttpError('too_large', `request body is larger than ${http.bodyLimitBytes} bytes (BODY_LIMIT_BYTES)`) as unknown as FastifyError);
      }
      return sendError(request, reply, err);
    });
    app.setNotFoundHandler((request, reply) =>
      sendError(request, reply, new HttpError('not_found', `no route ${request.method} ${request.url.split('?', 1)[0]!.slice(0, 200)}`) as unknown as FastifyError));

    observeRequests(app, metrics);
    const keys = createKeyCheck(http.apiKey);
    await installRateLimit(app, http, keys);
    // After every onRequest hook (rate limiting included) and before the body is read.
    app.addHook('preParsing', async (request) => keys.check(request));

    await app.register(cors, {
      origin: http.allowedOrigins.includes('*') ? '*' : [...http.allowedOrigins],
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['Content-Type', 'Authorization', 'X-API-Key', 'X-Request-Id'],
      exposedHeaders: ['Retry-After', 'X-Request-Id', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
      maxAge: 600,
    });

    await installOpenApi(app, http);

    const schemas = buildSchemas(http);
    const ctx: RouteContext = {
      config, model, cache, metrics, schemas,
      embedder: new Embedder({ model, cache, limiter, metrics }),
      status: deps.status,
      rateLimit: rateLimits(http),
    };
    embedRoutes(app, ctx);
    openaiRoutes(app, ctx);
    opsRoutes(app, ctx);
    cacheRoutes(app, ctx);

    await app.ready();
  } catch (err) {
    await app.close().catch(() => undefined); // releases the Redis connection
    throw err;
  }
  return app;
}
