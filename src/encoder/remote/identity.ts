// A remote model's identity (model_checksum) and who applies its prompts.
import { createHash } from 'node:crypto';
import type { ModelConfig } from '../../config/index.ts';
import { daemonPrompts, type Prompts } from './prompts.ts';

export interface PromptPlan {
  /** What the daemon prepends (undefined: nothing). */
  readonly daemon: Prompts | undefined;
  /** The prompts as far as the daemon knows them, for model info. */
  readonly known: Prompts;
  /** How prompts are handled, for the checksum. */
  readonly identity: object;
}

/** Who applies the prompts for TEI/OpenAI: TEI by name (EMBEDDING_PROMPT_NAMES), else the daemon unless told not to. */
export async function promptPlan(model: ModelConfig, cwd: string): Promise<PromptPlan> {
  const known = await daemonPrompts(model, cwd);
  if (model.backend === 'tei' && model.promptNames) {
    return { daemon: undefined, known, identity: { by: 'remote', names: model.promptNames } };
  }
  if (!model.applyPrompts) return { daemon: undefined, known: { query: '', document: '' }, identity: { by: 'none' } };
  return { daemon: known, known, identity: { by: 'daemon', ...known } };
}

/**
 * model_checksum of a remote model: its identity plus everything that changes the vectors on this side
 * (prompt handling; vectors are always stored unit length), same 16-hex form as the local checksum.
 */
export function remoteChecksum(identity: object): string {
  return createHash('sha256').update(JSON.stringify({ ...identity, normalize: true })).digest('hex').slice(0, 16);
}
