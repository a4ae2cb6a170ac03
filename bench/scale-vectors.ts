// The constant-time encoder of bench:scale: a text's vector is one of `clusters` fixed centres (picked by a
// hash of the text) plus noise seeded by the same hash, normalised. The cost is O(dimensions) per text, so
// the database path is what the bench measures, and the vectors have the cluster structure real embeddings
// have, so an ivfflat index and its recall behave as they would on real data (uniform noise would not).
import type { Encoder } from '../src/encoder/types.ts';

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 32 - 0.5;
  };
}

export function clusteredVectors(dims: number, clusters = 1000, noise = 0.35): (text: string) => Float32Array {
  const next = prng(42);
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dims }, next));
  return (text) => {
    const h = fnv1a(text);
    const c = centres[h % clusters]!;
    const r = prng(h);
    const v = new Float32Array(dims);
    let n = 0;
    for (let i = 0; i < dims; i++) { v[i] = c[i]! + noise * r(); n += v[i]! * v[i]!; }
    n = Math.sqrt(n);
    for (let i = 0; i < dims; i++) v[i]! /= n;
    return v;
  };
}

export function scaleEncoder(dims: number): Encoder {
  const vectorOf = clusteredVectors(dims);
  return {
    info: { name: `clustered-${dims}`, backend: 'local', dimensions: dims, pooling: 'mean', prompts: { query: '', document: '' },
      normalize: true, maxTokens: 512, checksum: `clustered${String(dims).padStart(7, '0')}`, version: '0', file: '', loadTimeSeconds: 0 },
    async encode(texts) { return { vectors: texts.map(vectorOf), tokens: 0, truncated: 0 }; },
    async close() {},
  };
}
