// JSON bodies are read as bytes and checked to be valid UTF-8 before parsing: the default parser would turn bad
// bytes into U+FFFD silently, and a client would get a vector for a text it never sent.
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from './errors.ts';

export function installJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // Only JSON is accepted (text/plain too would let a browser page post here without a CORS preflight).
  app.removeAllContentTypeParsers();
  const parse = (request: FastifyRequest, bytes: Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    // An empty body is "no body": routes that need one say which fields are required.
    if (bytes.length === 0) {
      done(null, undefined);
      return;
    }
    if (!isUtf8(bytes)) {
      done(badRequest('request body is not valid UTF-8'), undefined);
      return;
    }
    parseJson(request, bytes.toString('utf8'), (err, value) => {
      if (err) done(badRequest(`request body is not valid JSON: ${err.message}`), undefined);
      else done(null, value);
    });
  };
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => parse(request, body as Buffer, done));
  app.addContentTypeParser(/^application\/[\w.-]+\+json\b/, { parseAs: 'buffer' }, (request, body, done) => parse(request, body as Buffer, done));
}
