// The test tokenizer grown to a real vocabulary size. A real-sized model needs a real-sized tokenizer to show
// real costs: each encoder worker holds one, and a 50,265-token byte-level BPE takes ~20 MB where the test
// tokenizer's 512 tokens take almost nothing. The added tokens are deterministic concatenations of existing
// ones, each with the merge that makes it, so the file is a valid BPE that the tokenizer library loads and uses.
import { prng } from '../../src/model/prng.ts';

interface BpeTokenizerJson {
  readonly model: { readonly type: string; readonly vocab: Record<string, number>; readonly merges: readonly string[] };
}

/** Longest added token, in byte-level characters: long enough to be BPE-like, short enough to stay distinct. */
const MAX_TOKEN_CHARS = 12;

export function sizedTokenizerJson(base: string, vocabSize: number, seed = 50_265): string {
  const json = JSON.parse(base) as BpeTokenizerJson;
  if (json.model.type !== 'BPE') throw new Error(`cannot grow a ${json.model.type} tokenizer: BPE only`);
  const vocab: Record<string, number> = { ...json.model.vocab };
  const merges = [...json.model.merges];
  const tokens = Object.keys(vocab).filter((t) => !/^<.*>$/.test(t));
  let id = Math.max(...Object.values(vocab)) + 1;
  const rand = prng(seed);
  while (id < vocabSize) {
    const a = tokens[Math.floor(rand() * tokens.length)]!;
    const b = tokens[Math.floor(rand() * tokens.length)]!;
    const ab = a + b;
    if (ab.length > MAX_TOKEN_CHARS || vocab[ab] !== undefined) continue;
    vocab[ab] = id++;
    tokens.push(ab);
    merges.push(`${a} ${b}`);
  }
  return JSON.stringify({ ...json, model: { ...json.model, vocab, merges } });
}
