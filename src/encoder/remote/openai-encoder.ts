// EMBEDDING_BACKEND=openai: any OpenAI-compatible /v1/embeddings (vLLM, infinity, Ollama, OpenAI). Such
// servers never apply a model's prompts, so the daemon prepends them (EMBEDDING_APPLY_PROMPTS). Vectors
// are requested as base64 float32 (exact and compact; plain float arrays are read too). They report no
// model identity: the checksum is the model name plus the prompt handling, or EMBEDDING_CHECKSUM as given.
import type { ModelConfig } from '../../config/index.ts';
import { HttpClient } from './http-client.ts';
import { promptPlan, remoteChecksum } from './identity.ts';
import type { RemoteCommon } from './common.ts';
import { RemoteChangedError, RemoteEncoder, type Dialect, type ParsedAnswer } from './remote-encoder.ts';

/** Inputs per request when EMBEDDING_REMOTE_BATCH_SIZE is not set (OpenAI itself takes up to 2048). */
const DEFAULT_BATCH = 128;
const PAYLOAD_BYTES = 4_000_000;

/** The embeddings route from an endpoint given as the server, its /v1 base, or the full route. */
export function embeddingsTarget(endpoint: string): { readonly base: string; readonly path: string } {
  const u = new URL(endpoint);
  const path = u.pathname.replace(/\/+$/, '');
  if (path.endsWith('/embeddings')) {
    u.pathname = path.slice(0, -'/embeddings'.length) || '/';
    return { base: u.toString(), path: 'embeddings' };
  }
  return { base: endpoint, path: path.endsWith('/v1') ? 'embeddings' : 'v1/embeddings' };
}

export function openaiDialect(modelName: string, path: string): Dialect {
  return {
    request: (texts) => ({ path, body: { model: modelName, input: texts, encoding_format: 'base64' } }),
    parse(body, count): ParsedAnswer {
      const b = body as { data?: { index?: unknown; embedding?: unknown }[]; usage?: { prompt_tokens?: unknown } };
      if (!Array.isArray(b?.data)) throw new RemoteChangedError('answer to /embeddings has no data list');
      if (b.data.length !== count) {
        throw new RemoteChangedError(`answer to /embeddings has ${b.data.length} embeddings for ${count} inputs`);
      }
      const vectors: unknown[] = new Array(count);
      b.data.forEach((d, i) => {
        const at = typeof d.index === 'number' ? d.index : i;
        if (at < 0 || at >= count || vectors[at] !== undefined) {
          throw new RemoteChangedError('answer to /embeddings has bad or repeated indexes');
        }
        vectors[at] = d.embedding;
      });
      const tokens = typeof b.usage?.prompt_tokens === 'number' ? b.usage.prompt_tokens : 0;
      return { ok: true, vectors, tokens };
    },
  };
}

export async function createOpenAiEncoder(model: ModelConfig, c: RemoteCommon): Promise<RemoteEncoder> {
  const target = embeddingsTarget(model.endpoint!);
  const client = new HttpClient({
    endpoint: target.base, apiKey: model.apiKey, connections: model.concurrency, timeoutMs: model.remoteTimeoutMs,
  });
  try {
    const name = model.remoteModel ?? model.model;
    const plan = await promptPlan(model, c.cwd);
    const checksum = model.checksumPin ?? remoteChecksum({ backend: 'openai', model: name, prompts: plan.identity });
    const encoder = new RemoteEncoder({
      client, dialect: openaiDialect(name, target.path), concurrency: model.concurrency,
      limits: { maxItems: model.remoteBatchSize ?? DEFAULT_BATCH, maxBytes: PAYLOAD_BYTES },
      daemonPrompts: plan.daemon, retry: c.retry, breaker: c.breaker(), startedAt: c.startedAt,
      info: {
        // Not reported by OpenAI-compatible servers; shown as the common default.
        name, backend: 'openai', pooling: 'mean', prompts: plan.known,
        normalize: true, maxTokens: 0, checksum, version: c.version, file: client.origin,
      },
    });
    return await encoder.start(c.startupRetry, c.signal);
  } catch (err) {
    await client.close();
    throw err;
  }
}
