// EMBEDDING_BACKEND=tei: Hugging Face text-embeddings-inference (or anything answering its /info and
// /embed). Batches follow /info's max_client_batch_size and TEI's default 2 MB payload limit; prompts go
// by prompt_name when EMBEDDING_PROMPT_NAMES maps the roles to the model's prompt names, else the daemon
// prepends them. Identity: /info model_id + model_sha plus the prompt handling.
import type { ModelConfig } from '../../config/index.ts';
import type { PoolingMode, Role } from '../types.ts';
import { HttpClient } from './http-client.ts';
import { promptPlan, remoteChecksum } from './identity.ts';
import type { RemoteCommon } from './common.ts';
import { RemoteChangedError, RemoteEncoder, type Dialect, type ParsedAnswer } from './remote-encoder.ts';
import { field, getJson } from './startup.ts';

/** TEI's --payload-limit default, less room for the JSON around the texts. */
const TEI_PAYLOAD_BYTES = 1_900_000;

const POOLING: Readonly<Record<string, PoolingMode>> = {
  cls: 'cls', mean: 'mean', last_token: 'lasttoken', lasttoken: 'lasttoken', max: 'max',
};

export function teiDialect(promptNames: Readonly<Record<Role, string>> | undefined): Dialect {
  return {
    request: (texts, role) => ({
      path: 'embed',
      body: { inputs: texts, truncate: true, normalize: true, ...(promptNames ? { prompt_name: promptNames[role] } : {}) },
    }),
    parse(body, count): ParsedAnswer {
      if (!Array.isArray(body)) throw new RemoteChangedError('answer to /embed is not a list of embeddings');
      if (body.length !== count) throw new RemoteChangedError(`answer to /embed has ${body.length} embeddings for ${count} inputs`);
      return { ok: true, vectors: body, tokens: 0 };
    },
  };
}

export async function createTeiEncoder(model: ModelConfig, c: RemoteCommon): Promise<RemoteEncoder> {
  const client = new HttpClient({
    endpoint: model.endpoint!, apiKey: model.apiKey, connections: model.concurrency, timeoutMs: model.remoteTimeoutMs,
  });
  try {
    const where = `${client.url('info')}`;
    const info = await getJson(client, 'info', c.startupRetry, c.signal);
    const modelId = field<string>(info, 'model_id', 'string', where)!;
    const modelSha = field<string>(info, 'model_sha', 'string', where, true) ?? null;
    const maxClientBatch = field<number>(info, 'max_client_batch_size', 'number', where, true) ?? 32;
    const maxInput = field<number>(info, 'max_input_length', 'number', where, true) ?? 0;
    const embedding = ((info as { model_type?: { embedding?: { pooling?: unknown } } }).model_type?.embedding) ?? undefined;
    if ((info as { model_type?: object }).model_type && !embedding) {
      throw new Error(`${where}: the TEI server runs a ${Object.keys((info as { model_type: object }).model_type).join('/')} model, ` +
        'not an embedding model');
    }
    const plan = await promptPlan(model, c.cwd);
    const checksum = model.checksumPin ??
      remoteChecksum({ backend: 'tei', model_id: modelId, model_sha: modelSha, prompts: plan.identity });
    const encoder = new RemoteEncoder({
      client, dialect: teiDialect(model.promptNames), concurrency: model.concurrency,
      limits: { maxItems: Math.min(maxClientBatch, model.remoteBatchSize ?? Infinity), maxBytes: TEI_PAYLOAD_BYTES },
      daemonPrompts: model.promptNames ? undefined : plan.daemon, retry: c.retry, breaker: c.breaker(), startedAt: c.startedAt,
      info: {
        name: modelId, backend: 'tei', pooling: POOLING[String(embedding?.pooling)] ?? 'mean', prompts: plan.known,
        normalize: true, maxTokens: maxInput, checksum, version: c.version, file: client.origin,
      },
    });
    return await encoder.start(c.startupRetry, c.signal);
  } catch (err) {
    await client.close();
    throw err;
  }
}
