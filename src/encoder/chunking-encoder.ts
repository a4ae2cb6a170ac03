// An encoder for a chunked table (EMBEDSYNC_CHUNKING=tokens): each document is cut into chunks of the model's
// tokens (chunker.ts), every chunk of every document of a call goes to the model in the one call (so runs
// stay full and length-sorted), and the document's own vector is the normalised mean of its chunks' vectors.
// The chunks travel with that vector (chunksOf) to the write, which stores them in the same transaction as
// the row's vector, under the same text-hash guard (src/queue/chunk-write.ts). Queries pass through.
import { Chunker } from './chunker.ts';
import { EncodeError, type Encoder, type EncodeOptions, type EncodeResult, type Role } from './types.ts';

export interface ChunkSettings {
  /** Content tokens per chunk; undefined: the model's limit less its document prompt and special tokens. */
  readonly tokens: number | undefined;
  readonly overlap: number;
}

/** The chunk settings of a source, undefined when it is not chunked. */
export function chunkSettingsOf(
  source: { readonly chunking: string; readonly chunkTokens: number | undefined; readonly chunkOverlap: number },
): ChunkSettings | undefined {
  return source.chunking === 'tokens' ? { tokens: source.chunkTokens, overlap: source.chunkOverlap } : undefined;
}

export interface Chunk {
  readonly text: string;
  readonly vector: Float32Array;
}

// The chunks of each document vector this module made, keyed by that vector: the vector object itself goes
// unchanged from the encoder to the write, whatever steps lie between.
const chunksByVector = new WeakMap<Float32Array, readonly Chunk[]>();

/** The chunks a document vector was made from, when a chunking encoder made it. */
export function chunksOf(vector: Float32Array): readonly Chunk[] | undefined {
  return chunksByVector.get(vector);
}

export class ChunkingUnavailableError extends Error {
  override name = 'ChunkingUnavailableError';
}

/** A chunker for `encoder`'s model, with the chunk size the settings give (default: all the model takes after its prompt). */
export function chunkerFor(encoder: Encoder, settings: ChunkSettings): Chunker {
  const folder = encoder.folder;
  if (!folder) {
    throw new ChunkingUnavailableError('EMBEDSYNC_CHUNKING=tokens counts tokens with the model\'s own tokenizer, ' +
      `which the ${encoder.info.backend} backend does not expose: serve chunked tables with EMBEDDING_BACKEND=local (docs/chunking.md)`);
  }
  const json = JSON.parse(new TextDecoder().decode(folder.tokenizerJson)) as object;
  const prompt = folder.prompts.document;
  // Special tokens around the content (<s> … </s>): counted once on an empty text.
  const probe = new Chunker(json, folder.tokenizerConfig, { size: 8, overlap: 0 });
  const specials = 2;
  const room = folder.maxTokens - specials - (prompt ? probe.count(prompt) : 0);
  const size = settings.tokens ?? room;
  if (size > room) {
    throw new ChunkingUnavailableError(`EMBEDSYNC_CHUNK_TOKENS=${size} is more than ${encoder.info.name} reads ` +
      `after its document prompt (${room}): set it to ${room} or less`);
  }
  return new Chunker(json, folder.tokenizerConfig, { size, overlap: Math.min(settings.overlap, Math.floor(size / 2)), prefix: prompt });
}

export interface ChunkingEncoderOptions {
  /** Told the chunk count of every document encoded (embedsync_chunks_per_row). */
  readonly onDocument?: (chunks: number) => void;
}

/** `inner` cutting documents into chunks; returns `inner` itself when `settings` is undefined (chunking none). */
export function chunkingEncoder(inner: Encoder, settings: ChunkSettings | undefined, o: ChunkingEncoderOptions = {}): Encoder {
  if (!settings) return inner;
  const chunker = chunkerFor(inner, settings);
  const encode = async (texts: readonly string[], role: Role, options?: EncodeOptions): Promise<EncodeResult> => {
    if (role !== 'document') return inner.encode(texts, role, options);
    const cuts = texts.map((t) => chunker.chunk(t));
    const pieces = cuts.map((c) => c.chunks);
    const flat = pieces.flat();
    const owner = pieces.flatMap((p, i) => p.map(() => i));
    let r: EncodeResult;
    try {
      r = flat.length ? await inner.encode(flat, 'document', options) : { vectors: [], tokens: 0, truncated: 0 };
    } catch (err) {
      // A chunk to blame is its document's fault.
      if (err instanceof EncodeError && err.index !== undefined) {
        throw new EncodeError(err.message, err.reason, owner[err.index], { cause: err });
      }
      throw err;
    }
    const vectors: Float32Array[] = [];
    let at = 0;
    for (const p of pieces) {
      const chunks = p.map((text, j) => ({ text, vector: r.vectors[at + j]! }));
      at += p.length;
      const v = meanOf(chunks.map((c) => c.vector), inner.info.dimensions);
      chunksByVector.set(v, chunks);
      o.onDocument?.(chunks.length);
      vectors.push(v);
    }
    return { vectors, tokens: r.tokens, truncated: r.truncated + cuts.filter((c) => c.cut).length };
  };
  // The inner encoder's capabilities stay visible through the wrapper (read live: the pace changes as it learns).
  return {
    get info() { return inner.info; },
    encode,
    close: () => inner.close(),
    get pace() { return inner.pace; },
    get scheduler() { return inner.scheduler; },
    get availability() { return inner.availability; },
    get folder() { return inner.folder; },
  };
}

/** The normalised mean of unit vectors (a blank document, no chunks: a zero vector, which the write never stores). */
function meanOf(vectors: readonly Float32Array[], dimensions: number): Float32Array {
  const out = new Float32Array(vectors[0]?.length ?? dimensions);
  for (const v of vectors) for (let i = 0; i < out.length; i++) out[i]! += v[i]!;
  let norm = 0;
  for (let i = 0; i < out.length; i++) norm += out[i]! * out[i]!;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i]! /= norm;
  return out;
}
