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
  /** Standard input, for `embed -` and text piped in; absent where there is none (tests, embedding callers). */
  readonly stdin?: Input;
}

export interface Input {
  /** A terminal: nothing is piped in, so a missing text is a usage error rather than a wait. */
  readonly isTTY: boolean;
  /** All of it, as UTF-8. */
  readAll(): Promise<string>;
}

/** Resolves to the process exit code. */
export type Command = (ctx: CommandContext) => Promise<number>;

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Commands about one table's rows refuse an EMBEDSYNC_TABLE list or `*` rather than pick one of them. */
export function oneTable(config: Config, command: string): Config {
  if (config.tables.kind === 'one') return config;
  throw new UsageError(`${command} works on one table: set EMBEDSYNC_TABLE to it (with its columns) for this command`);
}

/**
 * The text operand of `embed` / `search`: the argument, or stdin for `-` (or no argument with stdin piped in).
 * One trailing newline (what `echo` and editors add) is dropped.
 */
export async function textOperand(ctx: CommandContext, positionals: readonly string[], usage: string): Promise<string> {
  if (positionals.length > 1) throw new UsageError(`one text, not ${positionals.length} (quote it, or pipe it in)\n${usage}`);
  const arg = positionals[0];
  if (arg !== undefined && arg !== '-') return arg;
  if (!ctx.stdin || (arg === undefined && ctx.stdin.isTTY)) throw new UsageError(usage);
  return (await ctx.stdin.readAll()).replace(/\r?\n$/, '');
}
