// API_KEY check. Keys are compared as SHA-256 digests with timingSafeEqual: equal lengths always, and the time
// taken says nothing about how much of a guess was right. The rate limiter runs before this check and counts
// a wrong key against the caller's IP, so guessing is rate-limited too.
import { createHash, timingSafeEqual } from 'node:crypto';
import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors.ts';

/** Reachable without a key: probes and Prometheus scrapes. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/health', '/ready', '/metrics']);

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function presentedKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1]!;
  }
  const header = request.headers['x-api-key'];
  return typeof header === 'string' && header.length > 0 ? header : undefined;
}

export interface KeyCheck {
  /** The identity a request is rate-limited under: a verified key's digest, else its IP. */
  clientId(request: FastifyRequest): string;
  /** Throws 401 unless the request may pass. */
  check(request: FastifyRequest): void;
}

export function createKeyCheck(apiKey: string | undefined): KeyCheck {
  const expected = apiKey === undefined ? undefined : digest(apiKey);
  const verified = new WeakMap<FastifyRequest, boolean>();
  const isValid = (request: FastifyRequest): boolean => {
    if (expected === undefined) return false;
    let ok = verified.get(request);
    if (ok === undefined) {
      const key = presentedKey(request);
      ok = key !== undefined && timingSafeEqual(digest(key), expected);
      verified.set(request, ok);
    }
    return ok;
  };
  return {
    clientId(request) {
      // Only a verified key names a client: unverified ones would let a caller mint fresh buckets at will.
      // IPv6 addresses count per /64, as one host usually owns the whole subnet.
      return isValid(request) ? `key:${digest(presentedKey(request)!).subarray(0, 12).toString('hex')}` : `ip:${normalizeIP(request.ip)}`;
    },
    check(request) {
      if (expected === undefined || request.method === 'OPTIONS') return;
      if (PUBLIC_PATHS.has(request.routeOptions.url ?? '')) return;
      if (isValid(request)) return;
      const message = presentedKey(request) === undefined
        ? 'API key required: send Authorization: Bearer <key> or X-API-Key: <key>'
        : 'invalid API key';
      throw new HttpError('auth', message, { 'www-authenticate': 'Bearer' });
    },
  };
}
