// The OpenTelemetry SDK wiring: a tracer provider with a batching OTLP/HTTP (JSON) exporter, async-context
// propagation (so child spans and log lines find their parent across awaits) and W3C traceparent headers.
// Sampling follows the standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG variables, read by the SDK.
import { context, diag, DiagLogLevel, propagation, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { errorMessage } from './error-message.ts';

export interface TracerSdkOptions {
  readonly endpoint: string;
  readonly serviceName: string;
  readonly serviceVersion: string;
  readonly exportDelayMs?: number;
  readonly exportTimeoutMs?: number;
  readonly onExportError?: (message: string) => void;
}

export interface TracerSdk {
  readonly tracer: Tracer;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** <endpoint>/v1/traces, as the OTLP spec builds the traces URL from the generic endpoint variable. */
export function tracesUrl(endpoint: string): string {
  return new URL('v1/traces', endpoint.endsWith('/') ? endpoint : `${endpoint}/`).toString();
}

export function createTracerSdk(options: TracerSdkOptions): TracerSdk {
  const serviceVersion = options.serviceVersion;
  const onError = options.onExportError;
  if (onError) {
    const report = (message: string, ...args: unknown[]) => onError([message, ...args].map(errorMessage).join(' '));
    diag.setLogger({ error: report, warn: report, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
  }
  const exporter = new OTLPTraceExporter({ url: tracesUrl(options.endpoint), timeoutMillis: options.exportTimeoutMs ?? 10_000 });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: serviceVersion,
    }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: options.exportDelayMs ?? 5000 })],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    tracer: provider.getTracer('embedsync', serviceVersion),
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      try {
        await provider.shutdown();
      } finally {
        trace.disable();
        propagation.disable();
        context.disable();
        if (onError) diag.disable();
      }
    },
  };
}
