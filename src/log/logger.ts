// pino JSON logs. Secrets are redacted by path as a second line of defence; the first is never logging
// texts, keys or connection strings at all.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]',
  'apiKey', 'api_key', 'password', 'databaseUrl', 'database_url', 'text', 'texts', 'input', 'inputs',
] as const;

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { service: 'embedsync' }, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, destination);
}
