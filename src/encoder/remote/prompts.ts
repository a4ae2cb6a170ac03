// The model's query/document prompts as the daemon knows them, for backends that do not apply prompts
// themselves (OpenAI-compatible servers never do; TEI only through prompt_name): EMBEDDING_QUERY_PROMPT /
// EMBEDDING_DOCUMENT_PROMPT win; otherwise, when EMBEDDING_MODEL names a local copy of the model folder,
// its config_sentence_transformers.json (the file the local encoder reads, picked by the same names).
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { ModelConfig } from '../../config/index.ts';
import type { Role } from '../types.ts';

export type Prompts = Readonly<Record<Role, string>>;

const NAMES: Readonly<Record<Role, readonly string[]>> = {
  query: ['search_query', 'query'],
  document: ['search_document', 'document', 'passage'],
};

/** Prompts from a model folder's config_sentence_transformers.json; empty when there is no such file. */
export async function folderPrompts(dir: string): Promise<Partial<Record<Role, string>>> {
  let text: string;
  try {
    text = await readFile(join(dir, 'config_sentence_transformers.json'), 'utf8');
  } catch {
    return {};
  }
  let prompts: Record<string, unknown>;
  try {
    prompts = ((JSON.parse(text) as { prompts?: Record<string, unknown> }).prompts) ?? {};
  } catch (err) {
    throw new Error(`config_sentence_transformers.json in ${dir} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const out: Partial<Record<Role, string>> = {};
  for (const role of ['query', 'document'] as const) {
    const hit = NAMES[role].map((n) => prompts[n]).find((p) => typeof p === 'string');
    if (typeof hit === 'string') out[role] = hit;
  }
  return out;
}

export async function daemonPrompts(model: ModelConfig, cwd: string): Promise<Prompts> {
  const dir = isAbsolute(model.model) ? model.model : resolve(cwd, model.model);
  const fromFolder = await folderPrompts(dir);
  return {
    query: model.queryPrompt ?? fromFolder.query ?? '',
    document: model.documentPrompt ?? fromFolder.document ?? '',
  };
}
