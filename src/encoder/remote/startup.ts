// Start-up requests (a remote's /model-info or /info) with the same retries as encoding: a remote that is
// still starting gets a few seconds; one that stays down fails start-up with its address and the reason.
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionError, type HttpClient } from './http-client.ts';
import { errorMessage } from './remote-encoder.ts';
import { isRetryableStatus, parseRetryAfter, retryDelayMs, type RetryPolicy } from './retry-policy.ts';

export class RemoteStartError extends Error {
  override name = 'RemoteStartError';
}

export async function getJson(client: HttpClient, path: string, retry: RetryPolicy, signal?: AbortSignal): Promise<unknown> {
  const url = client.url(path).toString();
  for (let attempt = 0; ; attempt++) {
    let problem: string;
    let retryAfterMs: number | undefined;
    try {
      const answer = await client.send('GET', path, undefined, signal);
      if (answer.status >= 200 && answer.status < 300) {
        if (typeof answer.body !== 'object' || answer.body === null) throw new RemoteStartError(`GET ${url} did not answer JSON`);
        return answer.body;
      }
      problem = `HTTP ${answer.status}: ${errorMessage(answer.body)}`;
      if (!isRetryableStatus(answer.status)) {
        throw new RemoteStartError(`GET ${url} answered ${problem}` +
          (answer.status === 401 || answer.status === 403 ? ' (check EMBEDDING_API_KEY)'
            : answer.status === 404 ? ' (check EMBEDDING_ENDPOINT and EMBEDDING_BACKEND)' : ''));
      }
      retryAfterMs = parseRetryAfter(answer.headers['retry-after']);
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
      problem = err.message;
    }
    if (attempt + 1 >= retry.maxAttempts || signal?.aborted) {
      throw new RemoteStartError(`remote encoder at ${client.origin} is not reachable: ${problem}`);
    }
    // An abort ends the wait; the next send() sees the aborted signal and fails as it would have.
    await sleep(Math.min(retryDelayMs(retry, attempt, retryAfterMs), retry.maxRetryAfterMs), undefined, { signal }).catch(() => undefined);
  }
}

/** A field of a start-up answer, with a message naming the route when it is missing or of the wrong type. */
export function field<T>(body: unknown, name: string, type: 'string' | 'number' | 'object', where: string,
  optional = false): T | undefined {
  const v = (body as Record<string, unknown>)[name];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new RemoteStartError(`${where} has no ${name}`);
  }
  if (typeof v !== type) throw new RemoteStartError(`${where}: ${name} should be a ${type}`);
  return v as T;
}
