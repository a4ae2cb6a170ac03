// Tokenizes with the model's own tokenizer.json and truncates like transformers' truncation=True for a single
// sequence: the content is cut so that content + special tokens fit maxTokens.
import { Tokenizer } from '@huggingface/tokenizers';
import type { ModelFolder } from './model-folder.ts';
import type { TruncationSide } from './types.ts';

export interface Tokenized {
  readonly ids: readonly number[];
  readonly truncated: boolean;
}

export class TextTokenizer {
  private readonly tokenizer: Tokenizer;
  /** Special tokens the post-processor puts before / after the content (e.g. <s> … </s>). */
  private readonly prefix: readonly number[];
  private readonly suffix: readonly number[];
  /**
   * Longest text (UTF-16 units) worth tokenizing: no token spells more than `longestToken` characters, so
   * maxTokens tokens never reach past maxTokens × longestToken; twice that plus a margin keeps the word
   * straddling the cut far from every kept token. A 10 MB input costs what a 50 kB one does.
   * (A normalizer that deletes characters could in theory pull later text forward; none of the supported
   * model families deletes more than it keeps.)
   */
  private readonly precutChars: number;
  readonly padId: number;

  /** The tokenizer of a model folder, with its max length and pad token. */
  static of(folder: Pick<ModelFolder, 'tokenizerJson' | 'tokenizerConfig' | 'maxTokens' | 'padTokenId'>): TextTokenizer {
    return new TextTokenizer(JSON.parse(new TextDecoder().decode(folder.tokenizerJson)) as object, folder.tokenizerConfig, folder.maxTokens,
      folder.padTokenId);
  }

  constructor(tokenizerJson: object, tokenizerConfig: object, readonly maxTokens: number, padTokenId?: number) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    const probe = 'a';
    const bare: number[] = this.tokenizer.encode(probe, { add_special_tokens: false }).ids;
    const full: number[] = this.tokenizer.encode(probe).ids;
    const at = full.findIndex((_: number, i: number) => bare.every((id: number, j: number) => full[i + j] === id));
    if (bare.length === 0 || at < 0) throw new Error('tokenizer.json: cannot locate the content among the special tokens');
    this.prefix = full.slice(0, at);
    this.suffix = full.slice(at + bare.length);
    if (this.prefix.length + this.suffix.length >= maxTokens) throw new Error(`max length ${maxTokens} leaves no room for text`);
    let longest = 1;
    for (const token of this.tokenizer.get_vocab(true).keys()) longest = Math.max(longest, token.length);
    this.precutChars = 2 * maxTokens * longest + 1024;
    const cfg = tokenizerConfig as { pad_token?: unknown };
    const padToken = typeof cfg.pad_token === 'string' ? cfg.pad_token : (cfg.pad_token as { content?: string } | undefined)?.content;
    this.padId = (padToken !== undefined ? this.tokenizer.token_to_id(padToken) : undefined) ?? padTokenId ?? 0;
  }

  /** Token count of a prompt as sentence-transformers counts it (specials before it included). */
  promptLength(prompt: string): number {
    return prompt ? this.prefix.length + this.tokenizer.encode(prompt, { add_special_tokens: false }).ids.length : 0;
  }

  /**
   * `prompt` + `text`, with special tokens, at most maxTokens ids. `side` left keeps the prompt and the end of
   * the text (TEI's truncation_direction Left), right keeps its beginning.
   */
  encode(prompt: string, text: string, side: TruncationSide = 'right'): Tokenized {
    let cut = text.length > this.precutChars;
    let body = text;
    if (cut && side === 'right') {
      let end = this.precutChars;
      const code = text.charCodeAt(end - 1);
      if (code >= 0xd800 && code <= 0xdbff) end -= 1; // do not split a surrogate pair
      body = text.slice(0, end);
    } else if (cut) {
      let start = text.length - this.precutChars;
      const code = text.charCodeAt(start);
      if (code >= 0xdc00 && code <= 0xdfff) start += 1;
      body = text.slice(start);
    }
    let content = this.tokenizer.encode(prompt + body, { add_special_tokens: false }).ids;
    const room = this.maxTokens - this.prefix.length - this.suffix.length;
    if (content.length > room) {
      if (side === 'right') {
        content = content.slice(0, room);
      } else {
        const keep = prompt ? Math.min(room, this.tokenizer.encode(prompt, { add_special_tokens: false }).ids.length) : 0;
        content = [...content.slice(0, keep), ...content.slice(content.length - (room - keep))];
      }
      cut = true;
    }
    return { ids: [...this.prefix, ...content, ...this.suffix], truncated: cut };
  }
}
