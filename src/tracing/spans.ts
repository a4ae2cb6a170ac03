// The span API the sync worker, the HTTP app and the logger call. It never exposes OpenTelemetry types, and
// while tracing is off every call is a flag check and a direct call, so the hot paths pay nothing for it.
import { context, isSpanContextValid, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';

export type SpanAttributeValue = string | number | boolean;
export type SpanAttributes = Readonly<Record<string, SpanAttributeValue | undefined>>;

/** What a traced function may add to its own span once it knows more (rows claimed, cache hits, ...). */
export interface SpanScope {
  setAttributes(attrs: SpanAttributes): void;
}

export interface SpanOptions {
  /** When the span began, as a performance.now() value (default: now). */
  readonly startTime?: number;
}

const NOOP_SCOPE: SpanScope = Object.freeze({ setAttributes: () => {} });

// Set by startTracing while an exporter is running; undefined means tracing is off.
let activeTracer: Tracer | undefined;

export function setActiveTracer(tracer: Tracer | undefined): void {
  activeTracer = tracer;
}

/** The tracer while tracing is on (for the HTTP hooks, which need SERVER spans and header propagation). */
export function getActiveTracer(): Tracer | undefined {
  return activeTracer;
}

export function isTracingEnabled(): boolean {
  return activeTracer !== undefined;
}

/**
 * Runs fn inside a span named `name`, a child of whatever span is current (so a batch span's claim, encode and
 * write steps nest under it). A thrown error is recorded on the span, marks it failed and is rethrown.
 */
export async function withSpan<T>(
  name: string, attrs: SpanAttributes, fn: (span: SpanScope) => Promise<T>, options: SpanOptions = {},
): Promise<T> {
  const tracer = activeTracer;
  if (tracer === undefined) return fn(NOOP_SCOPE);
  const spanOptions = { attributes: defined(attrs), ...(options.startTime !== undefined ? { startTime: options.startTime } : {}) };
  return tracer.startActiveSpan(name, spanOptions, async (span) => {
    try {
      return await fn({ setAttributes: (more) => span.setAttributes(defined(more)) });
    } catch (err) {
      markFailed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Records a step that already happened (timed by the caller with performance.now()) as a finished child of the
 * current span: the sync worker claims rows before it knows there is a batch to trace.
 */
export function recordSpan(name: string, attrs: SpanAttributes, startTime: number, endTime: number): void {
  activeTracer?.startSpan(name, { attributes: defined(attrs), startTime }).end(endTime);
}

/** The current trace id (32 hex chars), or undefined when tracing is off or no span is current. */
export function currentTraceId(): string | undefined {
  if (activeTracer === undefined) return undefined;
  const ctx = trace.getSpan(context.active())?.spanContext();
  return ctx && isSpanContextValid(ctx) ? ctx.traceId : undefined;
}

/**
 * pino `mixin`: adds trace_id and span_id to every log line written inside a span. Returns a fresh object
 * each time because pino merges the line's own fields into it.
 */
export function traceLogFields(): Record<string, string> {
  if (activeTracer === undefined) return {};
  const ctx = trace.getSpan(context.active())?.spanContext();
  return ctx && isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
}

export function markFailed(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

function defined(attrs: SpanAttributes): Record<string, SpanAttributeValue> {
  const out: Record<string, SpanAttributeValue> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out[k] = v;
  return out;
}
