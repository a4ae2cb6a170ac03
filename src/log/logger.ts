// pino JSON logs. Secrets are redacted by path as a second line of defence; the first is never logging
// texts, keys or connection strings at all.
import { pino, type Logger, type DestinationStream } from 'pino';
import { traceLogFields } from '../tracing/index.ts';

export type { Logger };

export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]',
  'apiKey', 'api_key', 'password', 'databaseUrl', 'database_url', 'text', 'texts', 'input', 'inputs',
] as const;

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({
    level, base: { service: 'embedsync' }, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    // trace_id/span_id on lines written inside a span; an empty object while tracing is off.
    mixin: traceLogFields,
  }, destination);
}
