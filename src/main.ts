// Composition root: the only module that touches `process` (argv, env, signals, exit codes).
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, type Config } from './config/index.ts';
import { UsageError, type Command, type CommandContext } from './cli/context.ts';
import { COMMANDS, usage } from './cli/commands.ts';

async function main(): Promise<number> {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`embedsync: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }

  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      process.stderr.write(`embedsync: second ${sig}, exiting now\n`);
      process.exit(130);
    }
    controller.abort(new Error(`received ${sig}`));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  let config: Config | undefined;
  const ctx: CommandContext = {
    argv: rest,
    env: process.env,
    config: () => (config ??= loadConfig(process.env, {
      configFile: process.env.EMBEDSYNC_CONFIG ?? join(process.cwd(), 'embedsync.config.json'),
      cores: availableParallelism(),
      homeDir: process.env.HOME ?? process.cwd(),
    })),
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
    cores: availableParallelism(),
    cwd: process.cwd(),
  };
  const command: Command = await load();
  return command(ctx);
}

main().then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`embedsync: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`embedsync: ${err instanceof Error ? err.message : String(err)}\n`);
      if (process.env.EMBEDSYNC_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
      process.exitCode = 1;
    }
  },
);
