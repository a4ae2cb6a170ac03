// Starts and stops the OpenTelemetry SDK. The SDK and exporter are imported only when tracing is switched on,
// so a process without OTEL_EXPORTER_OTLP_ENDPOINT never loads them.
import { errorMessage } from './error-message.ts';
import { isTracingEnabled, setActiveTracer } from './spans.ts';

export interface TracingOptions {
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans go to <endpoint>/v1/traces. Undefined: tracing off. */
  readonly endpoint: string | undefined;
  readonly serviceName: string;
  /** The package version (PACKAGE_VERSION of config/, passed in: tracing stands on the ground floor too). */
  readonly serviceVersion: string;
  /** Delay between span exports; the SDK default is 5 s. */
  readonly exportDelayMs?: number;
  /** Where exporter problems go (an unreachable collector must not be silent, nor fatal). */
  readonly onExportError?: (message: string) => void;
  /** How long one export request may take, retries included (default 10 s). */
  readonly exportTimeoutMs?: number;
  /** Longest wait for the last export at shutdown, so a dead collector cannot hold up the exit (default 2 s). */
  readonly shutdownTimeoutMs?: number;
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
  const report = (err: unknown) => options.onExportError?.(errorMessage(err));
  let stopped = false;
  return {
    enabled: true,
    flush: () => sdk.flush().catch(report),
    shutdown: async () => {
      if (stopped) return;
      stopped = true;
      setActiveTracer(undefined);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, options.shutdownTimeoutMs ?? 2000); });
      try {
        // A failed last export is reported, never thrown: shutdown runs while the process is exiting.
        await Promise.race([sdk.shutdown().catch(report), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
