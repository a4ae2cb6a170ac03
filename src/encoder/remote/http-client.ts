// One keep-alive connection pool per remote (undici Agent): as many connections as requests in flight, so
// the TCP/TLS handshake is paid once, not per batch. Answers come back as status + headers + parsed JSON;
// connection failures and timeouts become ConnectionError, which the caller retries like a 503.
import { Agent, request } from 'undici';

export interface HttpClientOptions {
  readonly endpoint: string;
  readonly apiKey: string | undefined;
  readonly connections: number;
  readonly timeoutMs: number;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  readonly body: unknown;
}

export class ConnectionError extends Error {
  override name = 'ConnectionError';
}

export class HttpClient {
  private readonly agent: Agent;
  private readonly base: URL;
  private readonly headers: Record<string, string>;

  constructor(o: HttpClientOptions) {
    this.base = new URL(o.endpoint);
    if (!this.base.pathname.endsWith('/')) this.base.pathname += '/';
    this.agent = new Agent({
      connections: o.connections,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 10 * 60_000,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
      connect: { timeout: Math.min(o.timeoutMs, 10_000) },
    });
    this.headers = { accept: 'application/json', 'user-agent': 'embedsync' };
    if (o.apiKey) this.headers.authorization = `Bearer ${o.apiKey}`;
    // Credentials in the URL go in the header, not on every request line.
    if (this.base.username || this.base.password) {
      if (!o.apiKey) {
        this.headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(this.base.username)}:` +
          `${decodeURIComponent(this.base.password)}`).toString('base64')}`;
      }
      this.base.username = '';
      this.base.password = '';
    }
  }

  /** The endpoint without credentials, for logs and model info. */
  get origin(): string {
    return this.base.toString().replace(/\/$/, '');
  }

  /** `path` is relative to the endpoint (its path prefix is kept): 'embed', 'v1/embeddings'. */
  url(path: string): URL {
    return new URL(path.replace(/^\//, ''), this.base);
  }

  async send(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<HttpAnswer> {
    const headers = body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' };
    let res;
    try {
      res = await request(this.url(path), {
        method, headers, dispatcher: this.agent,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ConnectionError(`${method} ${this.url(path).pathname}: ${describe(err)}`, { cause: err });
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ConnectionError(`${method} ${this.url(path).pathname}: reading the answer failed: ${describe(err)}`, { cause: err });
    }
    let parsed: unknown = text;
    const type = String(res.headers['content-type'] ?? '');
    if (type.includes('json') || /^\s*[[{]/.test(text)) {
      try {
        parsed = JSON.parse(text);
      } catch { /* left as text; the caller reports what it expected */ }
    }
    return { status: res.statusCode, headers: res.headers, body: parsed };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code;
  const msg = e?.message || e?.cause?.message || String(err);
  return code && !msg.includes(code) ? `${code} ${msg}` : msg;
}
