// EMBEDDING_BACKEND=embedsync: another embedsync (e.g. on a GPU box) serving /embed/batch. The role travels
// with each request, so the remote applies its own prompts; its /model-info checksum is the identity, so
// vectors from it and from the same model run locally carry the same model_checksum.
import type { ModelConfig } from '../../config/index.ts';
import type { PoolingMode, Role } from '../types.ts';
import { HttpClient } from './http-client.ts';
import { RemoteChangedError, RemoteEncoder, type Dialect, type ParsedAnswer } from './remote-encoder.ts';
import { field, getJson, RemoteStartError } from './startup.ts';
import type { RemoteCommon } from './common.ts';

interface RemoteModelInfo {
  readonly name: string;
  readonly checksum: string;
  readonly pooling: PoolingMode;
  readonly normalize: boolean;
  readonly prompts: Readonly<Record<Role, string>>;
  readonly maxTokens: number;
  readonly maxBatchSize: number | undefined;
  readonly maxTextLength: number | undefined;
  readonly bodyLimitBytes: number | undefined;
}

function readModelInfo(body: unknown, where: string): RemoteModelInfo {
  const prompts = field<Record<string, unknown>>(body, 'prompts', 'object', where)!;
  const limits = (field<Record<string, unknown>>(body, 'limits', 'object', where, true) ?? {});
  const num = (k: string) => (typeof limits[k] === 'number' ? limits[k] : undefined);
  return {
    name: field<string>(body, 'name', 'string', where)!,
    checksum: field<string>(body, 'checksum', 'string', where)!,
    pooling: (field<string>(body, 'pooling', 'string', where, true) ?? 'mean') as PoolingMode,
    normalize: (body as { normalize?: unknown }).normalize === true,
    prompts: { query: String(prompts.query as string | undefined ?? ''), document: String(prompts.document as string | undefined ?? '') },
    maxTokens: field<number>(body, 'max_tokens', 'number', where, true) ?? 0,
    maxBatchSize: num('max_batch_size'),
    maxTextLength: num('max_text_length'),
    bodyLimitBytes: num('body_limit_bytes'),
  };
}

export function embedsyncDialect(checksum: string): Dialect {
  return {
    request: (texts, role) => ({ path: 'embed/batch', body: { items: texts.map((text, i) => ({ id: String(i), text })), role } }),
    parse(body, count): ParsedAnswer {
      const b = body as { results?: { id?: unknown; embedding?: unknown; error?: unknown }[]; model_checksum?: unknown };
      if (!Array.isArray(b?.results)) throw new RemoteChangedError('answer to /embed/batch has no results list');
      if (b.model_checksum !== checksum) {
        throw new RemoteChangedError(`the remote now serves model_checksum ${String(b.model_checksum)}, not ${checksum} ` +
          '(its model changed: restart this daemon so it re-embeds with the new model)');
      }
      if (b.results.length !== count) {
        throw new RemoteChangedError(`answer to /embed/batch has ${b.results.length} results for ${count} items`);
      }
      const failed = b.results.findIndex((r) => r.embedding === null || r.embedding === undefined);
      if (failed >= 0) return { ok: false, index: failed, message: String(b.results[failed]!.error as string | undefined ?? 'refused') };
      b.results.forEach((r, i) => {
        if (r.id !== String(i)) throw new RemoteChangedError('answer to /embed/batch has its results out of order');
      });
      return { ok: true, vectors: b.results.map((r) => r.embedding), tokens: 0 };
    },
  };
}

export async function createEmbedsyncEncoder(model: ModelConfig, c: RemoteCommon): Promise<RemoteEncoder> {
  const client = new HttpClient({
    endpoint: model.endpoint!, apiKey: model.apiKey, connections: model.concurrency, timeoutMs: model.remoteTimeoutMs,
  });
  try {
    const where = `${client.url('model-info')}`;
    const remote = readModelInfo(await getJson(client, 'model-info', c.startupRetry, c.signal), where);
    const problems: string[] = [];
    if (model.checksumPin !== undefined && model.checksumPin !== remote.checksum) {
      problems.push(`EMBEDDING_CHECKSUM is ${model.checksumPin} but the remote serves model_checksum ${remote.checksum} (${remote.name})`);
    }
    for (const role of ['query', 'document'] as const) {
      const mine = role === 'query' ? model.queryPrompt : model.documentPrompt;
      if (mine !== undefined && mine !== remote.prompts[role]) {
        problems.push(`EMBEDDING_${role.toUpperCase()}_PROMPT is ${JSON.stringify(mine)} but the remote embedsync applies ` +
          `${JSON.stringify(remote.prompts[role])}: with EMBEDDING_BACKEND=embedsync the remote's prompts apply; set them there`);
      }
    }
    if (problems.length) throw new RemoteStartError(problems.join('; '));
    const maxItems = Math.min(remote.maxBatchSize ?? 128, model.remoteBatchSize ?? Infinity);
    // Leave room in the body limit for the JSON around the texts.
    const maxBytes = Math.max(4096, Math.floor((remote.bodyLimitBytes ?? 1 << 20) * 0.9));
    const encoder = new RemoteEncoder({
      client, dialect: embedsyncDialect(remote.checksum), concurrency: model.concurrency,
      limits: { maxItems, maxBytes, maxTextChars: remote.maxTextLength },
      daemonPrompts: undefined, retry: c.retry, breaker: c.breaker(), startedAt: c.startedAt,
      info: {
        name: remote.name, backend: 'embedsync', pooling: remote.pooling, prompts: remote.prompts, normalize: remote.normalize,
        maxTokens: remote.maxTokens, checksum: remote.checksum, version: c.version, file: client.origin,
      },
    });
    return await encoder.start(c.startupRetry, c.signal);
  } catch (err) {
    await client.close();
    throw err;
  }
}
