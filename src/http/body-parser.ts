// JSON bodies are read here rather than by Fastify's parser, for four reasons:
// - each route's own limit (body-limits.ts), and a body over it is drained up to a bound before the 413, so a
//   client still sending reads the answer instead of a broken pipe;
// - a body that trickles in is cut off at BODY_TIMEOUT_SECONDS (408), so slow senders cannot hold connections;
// - nesting depth is checked on the bytes before JSON.parse runs;
// - bytes must be valid UTF-8: the default parser would turn bad bytes into U+FFFD silently, and a client would
//   get a vector for a text it never sent.
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hasTopLevelKey, MAX_JSON_DEPTH, nestsDeeperThan, type BodyLimits } from './body-limits.ts';
import { badRequest, HttpError } from './errors.ts';

export interface BodyOptions {
  readonly limits: BodyLimits;
  readonly timeoutMs: number;
}

type Done = (err: Error | null, body?: unknown) => void;

/**
 * 413 naming where the route's limit comes from. `shapeUnknown`: POST /embed refused on its Content-Length alone,
 * before the body could show whether it is one text or TEI's list, so both limits and the way out are named (unless
 * BODY_LIMIT_BYTES, the cap of every route, is what refused it).
 */
export function tooLarge(limit: number, limits: BodyLimits, shapeUnknown = false): HttpError {
  if (shapeUnknown && limit !== limits.batch) {
    return new HttpError('too_large', 'request body is larger than POST /embed takes: ' +
      `one text of MAX_TEXT_LENGTH characters fits in ${limits.single} bytes, ` +
      `TEI's list of inputs in ${limits.teiEmbed}; send many texts to /embed/batch, POST / or /v1/embeddings ` +
      `(up to BODY_LIMIT_BYTES, ${limits.batch} bytes), ` +
      'and cut a longer text to MAX_TEXT_LENGTH characters');
  }
  const why = limit === limits.batch ? 'BODY_LIMIT_BYTES'
    : limit === limits.single ? 'one text of MAX_TEXT_LENGTH characters; send many texts to /embed/batch, POST / or /v1/embeddings'
      : limit === limits.teiEmbed ? 'TEI\'s payload limit for a list of inputs; send more to /embed/batch, POST / or /v1/embeddings'
      : 'this route takes a small JSON object';
  return new HttpError('too_large', `request body is larger than ${limit} bytes (${why})`);
}

export function installJsonParser(app: FastifyInstance, options: BodyOptions): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // Only JSON is accepted (text/plain too would let a browser page post here without a CORS preflight).
  app.removeAllContentTypeParsers();

  const parse = (request: FastifyRequest, bytes: Buffer, done: Done): void => {
    // An empty body is "no body": routes that need one say which fields are required.
    if (bytes.length === 0) return done(null, undefined);
    if (!isUtf8(bytes)) return done(badRequest('request body is not valid UTF-8'));
    if (nestsDeeperThan(bytes, MAX_JSON_DEPTH)) return done(badRequest(`request body nests JSON deeper than ${MAX_JSON_DEPTH} levels`));
    void parseJson(request, bytes.toString('utf8'), (err, value) => {
      if (err) done(badRequest(`request body is not valid JSON: ${err.message}`));
      else done(null, value);
    });
  };

  const read = (request: FastifyRequest, payload: Readable, done: Done): void => {
    let limit = request.routeOptions.bodyLimit ?? options.limits.small;
    // POST /embed: the native shape's limit until the body shows TEI's top-level "inputs" (clients post lists there).
    const teiAware = request.routeOptions.config.teiShape === true;
    let shapeKnown = !teiAware;
    const { drain } = options.limits;
    const declared = Number(request.headers['content-length']);
    // Too big to be worth draining: answer now (Fastify closes the connection after the answer).
    if (declared > Math.max(limit, drain)) return done(tooLarge(limit, options.limits, !shapeKnown));
    const chunks: Buffer[] = [];
    let received = 0;
    let finished = false;
    const finish = (err: Error | null, body?: Buffer) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      payload.off('data', onData).off('end', onEnd).off('error', onError);
      if (err) {
        // Whatever is still on its way is discarded, not buffered, until the connection closes.
        payload.resume();
        done(err);
      } else parse(request, body!, done);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (!shapeKnown && received > options.limits.single) {
        shapeKnown = true;
        limit = hasTopLevelKey(Buffer.concat([...chunks, chunk]), 'inputs') ? options.limits.teiEmbed : options.limits.single;
      }
      if (received <= limit) chunks.push(chunk);
      else {
        chunks.length = 0;
        if (received > Math.max(limit, drain)) finish(tooLarge(limit, options.limits));
      }
    };
    const onEnd = () => (received > limit ? finish(tooLarge(limit, options.limits)) : finish(null, Buffer.concat(chunks, received)));
    const onError = (err: Error) => finish(err);
    const timer = setTimeout(() => finish(new HttpError('body_timeout',
      `request body not received within BODY_TIMEOUT_SECONDS (${options.timeoutMs / 1000} s)`)), options.timeoutMs);
    timer.unref?.();
    payload.on('data', onData).on('end', onEnd).on('error', onError);
    payload.resume();
  };

  app.addContentTypeParser('application/json', (request, payload, done) => read(request, payload as Readable, done));
  app.addContentTypeParser(/^application\/[\w.-]+\+json\b/, (request, payload, done) => read(request, payload as Readable, done));
}
