// One SERVER span per HTTP request, named "<METHOD> <route>", continuing the caller's trace when it sends a
// W3C traceparent header. The handler runs inside the span's context, so encode spans and request log lines
// carry its trace id. With tracing off no hook is added at all.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { getActiveTracer, markFailed } from './spans.ts';

// Stable HTTP semantic-convention names, spelled out so this module does not load the 800 kB conventions package.
const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
const ATTR_HTTP_ROUTE = 'http.route';
const ATTR_URL_PATH = 'url.path';

// Any server, logger and type-provider flavour of Fastify: only the hooks are used.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFastify = FastifyInstance<any, any, any, any, any>;

export function installHttpTracing(app: AnyFastify): void {
  const tracer = getActiveTracer();
  if (tracer === undefined) return;
  const spans = new WeakMap<object, Span>();

  app.addHook('onRequest', (request, _reply, done) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const route = request.routeOptions.url;
    const span = tracer.startSpan(route ? `${request.method} ${route}` : request.method, {
      kind: SpanKind.SERVER,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: request.method,
        [ATTR_URL_PATH]: request.url.split('?', 1)[0] ?? request.url,
        ...(route ? { [ATTR_HTTP_ROUTE]: route } : {}),
        'embedsync.request_id': request.id,
      },
    }, parent);
    spans.set(request, span);
    // Every later hook and the handler are called from done(), so they run inside the span's context.
    context.with(trace.setSpan(parent, span), done);
  });

  app.addHook('onError', (request, _reply, error, done) => {
    const span = spans.get(request);
    if (span) markFailed(span, error);
    done();
  });

  app.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      spans.delete(request);
    }
    done();
  });

  app.addHook('onRequestAbort', (request, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttribute('embedsync.aborted', true);
      span.end();
      spans.delete(request);
    }
    done();
  });
}
