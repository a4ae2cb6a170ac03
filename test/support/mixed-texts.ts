// Deterministic mixed Russian / English texts built from the test corpus's lead-like sentences, cut to a
// target length in tokens of the model's tokenizer: the texts of the int8 quality gate and bench/model.ts.
import { TINY_CORPUS } from '../../src/model/tiny-corpus.ts';
import { prng } from '../../src/model/prng.ts';

const SENTENCES = TINY_CORPUS.split('\n').map((s) => s.trim()).filter(Boolean);
const WORDS = SENTENCES.join(' ').split(/\s+/);

export interface MixedTextOptions {
  readonly count: number;
  /** Token length range (inclusive) as counted by `tokens`. */
  readonly minTokens: number;
  readonly maxTokens: number;
  /** Token count of a text (with the model's special tokens and prompt, as the encoder feeds it). */
  readonly tokens: (text: string) => number;
  readonly seed?: number;
}

/**
 * Texts whose lengths spread evenly over [minTokens, maxTokens]: sentences in shuffled order (the first from
 * a random word on), some words swapped in from elsewhere in the corpus (the other language, often), trimmed
 * word by word to the drawn length.
 */
export function mixedTexts({ count, minTokens, maxTokens, tokens, seed = 1 }: MixedTextOptions): string[] {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const target = minTokens + Math.floor(rand() * (maxTokens - minTokens + 1));
    let words: string[] = [];
    // Trimming goes a whole word at a time; a text that falls under minTokens is drawn again.
    for (let attempt = 0; attempt < 20 && (attempt === 0 || tokens(words.join(' ')) < minTokens); attempt++) {
      words = [];
      while (tokens(words.join(' ')) < target) {
        const whole = pick(SENTENCES).split(/\s+/);
        // The first sentence starts anywhere, so short texts are not all sentence openings.
        const sentence = words.length ? whole : whole.slice(Math.floor(rand() * (whole.length - 1)));
        // Code-switching as in real leads: now and then a word from anywhere in the corpus.
        for (const w of sentence) words.push(rand() < 0.15 ? pick(WORDS) : w);
      }
      while (words.length > 1 && tokens(words.join(' ')) > target) words.pop();
    }
    out.push(words.join(' '));
  }
  return out;
}
