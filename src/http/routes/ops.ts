// Probes, model information (native and TEI's /info), Prometheus metrics and the sync status.
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.ts';
import { HttpError } from '../errors.ts';
import { GUARDED_ERRORS, errorResponses } from '../schema-parts.ts';

const ops = ['operations'];
// Reachable without an API key (security: [] overrides the document-wide requirement in /openapi.json).
const open = { tags: ops, security: [] };
const internal = errorResponses(['native'], [500]);

const health = {
  ...open, operationId: 'health', summary: 'Liveness: the process answers',
  response: {
    200: {
      description: 'Alive', type: 'object', required: ['status'], additionalProperties: false,
      properties: { status: { type: 'string', enum: ['ok'] } },
    },
    ...internal,
  },
} as const;

const ready = {
  ...open, operationId: 'ready',
  summary: 'Readiness: 200 once the model is loaded and warmed up, else 503 ' +
    '(also once migrate has recorded another model for the table this process syncs)',
  response: {
    200: {
      description: 'Ready', type: 'object', required: ['status', 'model', 'checksum'], additionalProperties: false,
      properties: { status: { type: 'string', enum: ['ready'] }, model: { type: 'string' }, checksum: { type: 'string' } },
    },
    503: {
      description: 'Not ready yet, the model failed to load, or the synced table now takes another model',
      type: 'object', required: ['status', 'detail'], additionalProperties: false,
      properties: { status: { type: 'string', enum: ['loading', 'warming', 'failed', 'model_mismatch'] }, detail: { type: 'string' } },
    },
    ...internal,
  },
} as const;

const metricsSchema = {
  ...open, operationId: 'metrics', summary: 'Prometheus metrics',
  response: {
    200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
    ...internal,
  },
} as const;

const status = {
  tags: ops, operationId: 'syncStatus', summary: 'Sync status: queue, dead letters, embedding coverage',
  response: {
    200: {
      description: 'What `embedsync status --json` prints (table, queue, rows, migration)', type: 'object', additionalProperties: true,
    },
    ...errorResponses(['native'], [...GUARDED_ERRORS, 404, 503]),
  },
} as const;

export function opsRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { model, schemas, config, metrics } = ctx;

  app.get('/health', { schema: health }, async () => ({ status: 'ok' }));

  app.get('/ready', { schema: ready }, async (_request, reply) => {
    const ready = model.phase === 'ready';
    const info = model.info;
    // Query vectors from this model would not match the table's any more: out of rotation until restarted.
    const mismatch = ready ? ctx.notReady?.() : undefined;
    if (mismatch) return reply.code(503).send({ status: 'model_mismatch', detail: mismatch });
    return reply.code(ready ? 200 : 503).send(ready && info
      ? { status: 'ready', model: info.name, checksum: info.checksum }
      : { status: model.phase, detail: model.describe() });
  });

  app.get('/model-info', { schema: schemas.modelInfo, config: { needsModel: true } }, async () => {
    const { info } = model.encoder();
    return {
      name: info.name, backend: info.backend, dimensions: info.dimensions, pooling: info.pooling,
      normalize: info.normalize, prompts: info.prompts, max_tokens: info.maxTokens, checksum: info.checksum,
      version: info.version, file: info.file, load_time_seconds: info.loadTimeSeconds,
      limits: {
        max_batch_size: config.http.maxBatchSize, max_text_length: config.http.maxTextLength,
        max_concurrent_requests: config.http.maxConcurrentRequests, body_limit_bytes: config.http.bodyLimitBytes,
      },
    };
  });

  app.get('/info', { schema: schemas.teiInfo, config: { needsModel: true } }, async () => {
    const { info } = model.encoder();
    return {
      model_id: info.name, model_sha: info.checksum, model_dtype: config.model.dtype === 'int8' ? 'int8' : 'float32',
      model_type: { embedding: { pooling: info.pooling } },
      max_concurrent_requests: config.http.maxConcurrentRequests, max_input_length: info.maxTokens,
      max_batch_tokens: config.model.maxBatchTokens, max_client_batch_size: config.http.maxBatchSize,
      tokenization_workers: 1, version: info.version,
    };
  });

  app.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });

  app.get('/status', { schema: status }, async (request) => {
    if (!ctx.status) {
      throw new HttpError('not_found', 'sync status is not available: this process serves the HTTP API only (started with --no-sync)');
    }
    try {
      return await ctx.status();
    } catch (err) {
      // The cause may name hosts or roles; it goes to the log, the client gets the request id.
      request.log.warn({ event: 'status_failed', err }, 'status_failed');
      throw new HttpError('unavailable', `sync status unavailable right now (database unreachable?); request id ${request.id}`,
        { 'retry-after': '5' });
    }
  });
}
