// Starts and stops the OpenTelemetry SDK. The SDK and exporter are imported only when tracing is switched on,
// so a process without OTEL_EXPORTER_OTLP_ENDPOINT never loads them.
import { isTracingEnabled, setActiveTracer } from './spans.ts';

export interface TracingOptions {
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans go to <endpoint>/v1/traces. Undefined: tracing off. */
  readonly endpoint: string | undefined;
  readonly serviceName: string;
  readonly serviceVersion?: string;
  /** Delay between span exports; the SDK default is 5 s. */
  readonly exportDelayMs?: number;
  /** Where exporter problems go (an unreachable collector must not be silent, nor fatal). */
  readonly onExportError?: (message: string) => void;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Sends the spans ended so far. */
  flush(): Promise<void>;
  /** Flushes, stops the exporter and turns tracing off again. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = Object.freeze({ enabled: false, flush: async () => {}, shutdown: async () => {} });

export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (options.endpoint === undefined) return OFF;
  if (isTracingEnabled()) throw new Error('tracing is already started in this process');
  const { createTracerSdk } = await import('./sdk.ts');
  const sdk = createTracerSdk({ ...options, endpoint: options.endpoint });
  setActiveTracer(sdk.tracer);
  let stopped = false;
  return {
    enabled: true,
    flush: () => sdk.flush(),
    shutdown: async () => {
      if (stopped) return;
      stopped = true;
      setActiveTracer(undefined);
      await sdk.shutdown();
    },
  };
}
