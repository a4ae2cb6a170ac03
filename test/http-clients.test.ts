// The server driven by the clients people already use, unchanged, from npm: the OpenAI SDK, LangChain's
// OpenAIEmbeddings and Hugging Face's InferenceClient (TEI). Over a real socket on 127.0.0.1; every response they
// receive is also checked against /openapi.json.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { OpenAIEmbeddings } from '@langchain/openai';
import { InferenceClient } from '@huggingface/inference';
import { startHttpServer, type HttpServer } from '../src/http/index.ts';
import { createLogger } from '../src/log/index.ts';
import { createMetrics } from '../src/metrics/index.ts';
import type { Env } from '../src/config/index.ts';
import type { Encoder, Role } from '../src/encoder/types.ts';
import { assertContract, contractFetch } from './helpers/contract.ts';
import { bits, deferred, testConfig, tinyEncoder } from './helpers/http-app.ts';

const KEY = 'client-suite-key';
const servers: HttpServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await (await tinyEncoder()).close();
});

async function start(env: Env = {}, encoder: Encoder | Promise<Encoder> = tinyEncoder(),
  wait = true): Promise<{ server: HttpServer; fetch: typeof fetch }> {
  const config = testConfig({ API_KEY: KEY, RATE_LIMIT: '1000/second', RATE_LIMIT_BATCH: '1000/second', ...env });
  const server = await startHttpServer({
    config, encoder, metrics: createMetrics({ defaultMetrics: false }), logger: createLogger('silent'),
  });
  servers.push(server);
  if (wait) await server.app.embedsync.ready;
  return { server, fetch: contractFetch(server.address, server.app, KEY) };
}

/** featureExtraction answers TEI's array of vectors as it came; one input's vector either way. */
const first = (answer: unknown) => (Array.isArray((answer as unknown[])[0]) ? (answer as number[][])[0]! : answer as number[]);

const direct = async (texts: string[], role: Role) => (await (await tinyEncoder()).encode(texts, role)).vectors;

test('openai SDK: embeddings.create (base64 by default and float), 2048 inputs, models.list and retrieve by a path id', async () => {
  const { server, fetch } = await start();
  const client = new OpenAI({ baseURL: `${server.address}/v1`, apiKey: KEY, fetch, maxRetries: 0 });
  const name = (await tinyEncoder()).info.name;
  const texts = ['velvet armchair', 'walnut desk'];
  const expected = await direct(texts, 'document');
  const b64 = await client.embeddings.create({ model: 'text-embedding-3-small', input: texts });
  const float = await client.embeddings.create({ model: 'text-embedding-3-small', input: texts, encoding_format: 'float' });
  for (const res of [b64, float]) {
    assert.equal(res.data.length, 2);
    res.data.forEach((d, i) => assert.ok(bits(d.embedding).equals(bits(expected[i]!)), `input ${i}`));
  }
  const many = Array.from({ length: 2048 }, (_, i) => `catalogue entry ${i}`);
  const big = await client.embeddings.create({ model: `${name}-document`, input: many });
  assert.equal(big.data.length, 2048);
  assert.ok(bits(big.data[2047]!.embedding).equals(bits((await direct([many[2047]!], 'document'))[0]!)));
  const query = await client.embeddings.create({ model: `${name}-query`, input: 'armchair' });
  assert.ok(bits(query.data[0]!.embedding).equals(bits((await direct(['armchair'], 'query'))[0]!)));

  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, [name, `${name}-query`, `${name}-document`]);
  assert.equal((await client.models.retrieve(name)).id, name, 'an id with slashes');
  await assert.rejects(client.models.retrieve('org/absent'), (err: unknown) => err instanceof OpenAI.NotFoundError);
  await assert.rejects(client.embeddings.create({ model: 'm', input: [[1, 2, 3]] }), (err: unknown) =>
    err instanceof OpenAI.BadRequestError && /token array/.test(err.message));
  const wrongKey = new OpenAI({ baseURL: `${server.address}/v1`, apiKey: 'wrong', fetch, maxRetries: 0 });
  await assert.rejects(wrongKey.embeddings.create({ model: 'm', input: 'x' }), (err: unknown) => err instanceof OpenAI.AuthenticationError);
});

test('LangChain OpenAIEmbeddings: 600 documents (two requests of up to 512) and a query, through the aliases', async () => {
  const { server, fetch } = await start();
  const name = (await tinyEncoder()).info.name;
  const sizes: number[] = [];
  const counted: typeof globalThis.fetch = async (input, init) => {
    sizes.push((JSON.parse(init?.body as string) as { input: unknown[] }).input.length);
    return fetch(input, init);
  };
  const make = (model: string) =>
    new OpenAIEmbeddings({ model, apiKey: KEY, maxRetries: 0, configuration: { baseURL: `${server.address}/v1`, fetch: counted } });
  const docs = Array.from({ length: 600 }, (_, i) => `product description number ${i} for the catalogue`);
  const vectors = await make(`${name}-document`).embedDocuments(docs);
  assert.equal(vectors.length, 600);
  assert.deepEqual(sizes, [512, 88], 'LangChain\'s own batching: more than MAX_BATCH_SIZE (128) per request');
  const expected = await direct([docs[0]!, docs[599]!], 'document');
  assert.ok(bits(vectors[0]!).equals(bits(expected[0]!)));
  assert.ok(bits(vectors[599]!).equals(bits(expected[1]!)));
  const q = await make(`${name}-query`).embedQuery('catalogue lamp');
  assert.ok(bits(q).equals(bits((await direct(['catalogue lamp'], 'query'))[0]!)));
});

test('@huggingface/inference featureExtraction with the server root as endpoint (POST /), also while the model loads', async () => {
  const loading = deferred<Encoder>();
  const { server, fetch } = await start({ MODEL_WAIT_SECONDS: '10' }, loading.promise, false);
  const client = new InferenceClient(KEY, { fetch });
  let posts = 0;
  const counted: typeof globalThis.fetch = (input, init) => {
    posts += 1;
    assert.equal(new Request(input, init).url, `${server.address}/`, 'POST / (the root as endpoint)');
    return fetch(input, init);
  };
  const countingClient = new InferenceClient(KEY, { fetch: counted });
  const early = countingClient.featureExtraction({ endpointUrl: server.address, inputs: 'held while loading' });
  setTimeout(async () => loading.resolve(await tinyEncoder()), 300);
  const heldVector = await early;
  assert.equal(posts, 1, 'held and answered, not retried into a rate limit');
  assert.ok(bits(first(heldVector)).equals(bits((await direct(['held while loading'], 'document'))[0]!)));

  const one = await client.featureExtraction({ endpointUrl: server.address, inputs: 'oak shelf' });
  const many = await client.featureExtraction({ endpointUrl: server.address, inputs: ['oak shelf', 'pine bed'] });
  const expected = await direct(['oak shelf', 'pine bed'], 'document');
  assert.ok(bits(first(one)).equals(bits(expected[0]!)));
  assert.equal((many as number[][]).length, 2);
  assert.ok(bits((many as number[][])[1]!).equals(bits(expected[1]!)));
  await assert.rejects(client.featureExtraction({ endpointUrl: server.address, inputs: ' ' }), /only whitespace/);
});

test('every response the clients received matches /openapi.json', async () => {
  const { checked } = await assertContract();
  assert.ok(checked >= 10, `checked ${checked}`);
});
