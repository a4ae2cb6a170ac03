// Tracing for embedsync: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set. Callers use withSpan, currentTraceId,
// traceLogFields (pino mixin) and installHttpTracing, none of which expose OpenTelemetry types.
export { startTracing, type Tracing, type TracingOptions } from './start.ts';
export {
  withSpan, recordSpan, currentTraceId, traceLogFields, isTracingEnabled,
  type SpanAttributes, type SpanAttributeValue, type SpanOptions, type SpanScope,
} from './spans.ts';
export { installHttpTracing } from './http.ts';
