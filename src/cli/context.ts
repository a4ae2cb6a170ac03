// What a CLI command receives from the composition root (src/main.ts), so commands never touch `process`.
import type { Config, Env } from '../config/index.ts';

export interface Output {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

export interface CommandContext {
  /** Arguments after the command (and sub-command) name. */
  readonly argv: readonly string[];
  readonly env: Env;
  /** Loads and validates the configuration; throws ConfigError listing every problem. */
  readonly config: () => Config;
  readonly stdout: Output;
  readonly stderr: Output;
  /** Aborted on the first SIGTERM/SIGINT: stop taking new work, finish what is in hand. */
  readonly signal: AbortSignal;
  readonly cores: number;
  readonly cwd: string;
}

/** Resolves to the process exit code. */
export type Command = (ctx: CommandContext) => Promise<number>;

export class UsageError extends Error {
  override name = 'UsageError';
}
