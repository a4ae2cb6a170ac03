// Content checks a JSON schema cannot express with a clear message, and the prompt rule for OpenAI/TEI inputs.
import type { Role } from '../encoder/types.ts';

type WellFormed = { isWellFormed(): boolean };

/**
 * The rules a JSON schema can state (as patterns, so /openapi.json carries them), each with the sentence a client
 * gets when its text breaks it. validation.ts reads the sentence back by pattern.
 */
export const TEXT_RULES = [
  { pattern: '^[^\\u0000]*$', problem: 'contains a NUL character (\\u0000), which PostgreSQL text cannot store; remove it' },
  { pattern: '\\S', problem: 'is only whitespace; there is nothing to embed' },
] as const;

/** Why `text` cannot be embedded, naming `field`; undefined when it can. */
export function textProblem(text: string, field: string): string | undefined {
  if (text.length === 0) return `${field} must not be empty`;
  if (text.includes('\0')) return `${field} ${TEXT_RULES[0].problem}`;
  if (!(text as unknown as WellFormed).isWellFormed()) {
    return `${field} contains an unpaired UTF-16 surrogate, which is not valid Unicode`;
  }
  if (!/\S/u.test(text)) return `${field} ${TEXT_RULES[1].problem}`;
  return undefined;
}

/**
 * TEI's prompt_name names a prompt of the model's sentence-transformers config; models name them differently
 * (query / search_query, document / passage / search_document), so each role answers to the usual names.
 */
export const PROMPT_NAMES: Readonly<Record<string, Role>> = {
  query: 'query', search_query: 'query', queries: 'query',
  document: 'document', search_document: 'document', passage: 'document', documents: 'document', passages: 'document',
};

export interface Prompted {
  readonly text: string;
  readonly role: Role;
}

/**
 * OpenAI and TEI clients send text as the model should see it. When it already starts with one of the model's
 * prompts, strip it and use that role: the encoder re-adds the same prompt, so the model sees exactly the input
 * (and the cache entry is shared with native requests). Otherwise use a role with an empty prompt if there is
 * one (again exactly the input), else `fallback`.
 */
export function resolveAsGiven(text: string, prompts: Readonly<Record<Role, string>>, fallback: Role): Prompted {
  const candidates = (Object.entries(prompts) as [Role, string][])
    .filter(([, p]) => p.length > 0 && text.startsWith(p))
    .sort((a, b) => b[1].length - a[1].length);
  const match = candidates[0];
  if (match) return { text: text.slice(match[1].length), role: match[0] };
  const bare = (Object.entries(prompts) as [Role, string][]).find(([, p]) => p.length === 0);
  return { text, role: bare ? bare[0] : fallback };
}
