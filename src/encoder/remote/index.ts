// Remote encoder backends behind the Encoder interface: EMBEDDING_BACKEND=embedsync|tei|openai with
// EMBEDDING_ENDPOINT. createRemoteEncoder contacts the remote at start (identity, limits, a probe encode
// that learns the dimension) and fails with the address and the reason when it cannot.
import { PACKAGE_VERSION, type ModelConfig } from '../../config/index.ts';
import { CircuitBreaker, DEFAULT_BREAKER, type BreakerOptions } from './circuit-breaker.ts';
import type { RemoteCommon } from './common.ts';
import type { Encoder } from '../types.ts';
import { DEFAULT_RETRY_POLICY, STARTUP_RETRY_POLICY, type RetryPolicy } from './retry-policy.ts';

export type { BackendAvailability } from '../types.ts';
export { RemoteEncoder } from './remote-encoder.ts';
export { promptPlan, remoteChecksum } from './identity.ts';
export type { RemoteCommon } from './common.ts';


/** Where outages and recoveries are reported (the daemon's pino logger fits). */
export interface RemoteLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface RemoteEncoderOptions {
  readonly logger?: RemoteLogger;
  readonly cwd?: string;
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
  /** Start-up contacts (identity, probe encode): patient, since a remote may still be loading its model. */
  readonly startupRetry?: RetryPolicy;
  readonly breaker?: BreakerOptions;
}

export async function createRemoteEncoder(model: ModelConfig, opts: RemoteEncoderOptions = {}): Promise<Encoder> {
  const common: RemoteCommon = {
    retry: opts.retry ?? DEFAULT_RETRY_POLICY,
    startupRetry: opts.startupRetry ?? STARTUP_RETRY_POLICY,
    breaker: () => new CircuitBreaker({
      ...(opts.breaker ?? DEFAULT_BREAKER),
      onChange: ({ open, openMs, reason }) => {
        const endpoint = withoutCredentials(model.endpoint);
        if (open) {
          opts.logger?.warn({ event: 'remote_encoder_unavailable', backend: model.backend, endpoint, retry_in_ms: openMs, error: reason },
            'remote encoder unavailable; rows stay queued until it answers again');
        } else {
          opts.logger?.info({ event: 'remote_encoder_recovered', backend: model.backend, endpoint }, 'remote encoder answers again');
        }
      },
    }),
    cwd: opts.cwd ?? '.',
    signal: opts.signal,
    startedAt: performance.now(),
    version: PACKAGE_VERSION,
  };
  if (!model.endpoint) throw new Error(`EMBEDDING_ENDPOINT is required when EMBEDDING_BACKEND=${model.backend}`);
  switch (model.backend) {
    case 'embedsync': return (await import('./embedsync-encoder.ts')).createEmbedsyncEncoder(model, common);
    case 'tei': return (await import('./tei-encoder.ts')).createTeiEncoder(model, common);
    case 'openai': return (await import('./openai-encoder.ts')).createOpenAiEncoder(model, common);
    default: throw new Error(`EMBEDDING_BACKEND=${model.backend} is not a remote backend`);
  }
}

function withoutCredentials(endpoint: string | undefined): string | undefined {
  if (!endpoint) return endpoint;
  const u = new URL(endpoint);
  u.username = '';
  u.password = '';
  return u.toString();
}
