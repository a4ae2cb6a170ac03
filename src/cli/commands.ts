// Command table: each command lives in its own file (a callable function + this thin wrapper), loaded lazily
// so `embedsync embed` never pays for Fastify or pg.
import type { Command } from './context.ts';

type Loader = () => Promise<Command>;

export const COMMANDS: Readonly<Record<string, Loader>> = {
  embed: async () => (await import('./embed.ts')).embedCommand,
  model: async () => (await import('./model.ts')).modelCommand,
  migrate: async () => (await import('./migrate.ts')).migrateCommand,
  run: async () => (await import('./run.ts')).runCommand,
  status: async () => (await import('./status.ts')).statusCommand,
  deadletter: async () => (await import('./deadletter.ts')).deadletterCommand,
  index: async () => (await import('./index-cmd.ts')).indexCommand,
  search: async () => (await import('./search.ts')).searchCommand,
};

const HELP = [
  ['run [--no-http] [--no-sync]', 'run the sync daemon and the HTTP embedding API'],
  ['migrate [--dry-run] [--in-place] [--abort]', 'install or upgrade the schema; handle a model or dimension change'],
  ['status [--json]', 'queue, dead letters and embedding coverage'],
  ['deadletter list|retry', 'inspect and replay rows that failed'],
  ['index status|rebuild [--force]', 'vector index state; build or rebuild it when due'],
  ['search "text" [--limit 10]', 'nearest rows to a query'],
  ['embed "text" [--query] [--model DIR]', 'print one embedding as JSON'],
  ['model info|make-test|import', 'model details; write the test model; import a checkpoint'],
] as const;

export function usage(): string {
  const width = Math.max(...HELP.map(([c]) => c.length));
  return `usage: embedsync <command>\n\n${HELP.map(([c, d]) => `  ${c.padEnd(width)}  ${d}`).join('\n')}\n`;
}
