// Composition root: the only module that touches `process` (argv, env, signals, exit codes).
import { availableParallelism, totalmem } from 'node:os';
import { isatty } from 'node:tty';
import { ConfigError, loadConfig, PACKAGE_VERSION, readMemoryLimit, readProcessSettings, type Config } from './config/index.ts';
import { UsageError, type Command, type CommandContext } from './cli/context.ts';
import { argvProblem, COMMANDS, commandUsage, usage, wantsHelp } from './cli/commands.ts';
import { explainError } from './cli/errors.ts';

let config: Config | undefined;
const settings = readProcessSettings(process.env, process.cwd());

async function main(): Promise<number> {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(name === 'help' && rest[0] ? commandUsage(rest[0], rest.slice(1)) : usage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`embedsync ${PACKAGE_VERSION}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`embedsync: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(commandUsage(name, rest));
    return 0;
  }
  const tooLong = argvProblem(process.argv);
  if (tooLong) throw new UsageError(tooLong);

  const controller = new AbortController();
  let signals = 0;
  let firstSignalAt = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    // One Ctrl-C under `npm run` arrives twice at once (from the terminal, and passed on by npm): that is one request.
    if (signals > 0 && Date.now() - firstSignalAt < 500) return;
    signals += 1;
    if (signals === 1) firstSignalAt = Date.now();
    if (signals > 1) {
      process.stderr.write(`embedsync: second ${sig}, exiting now\n`);
      process.exit(130);
    }
    controller.abort(new Error(`received ${sig}`));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const ctx: CommandContext = {
    argv: rest,
    env: process.env,
    config: () => (config ??= loadConfig(process.env, {
      configFile: settings.configFile,
      configFileRequired: settings.configFileRequired,
      cores: availableParallelism(),
      memory: readMemoryLimit({ machineBytes: totalmem() }),
      homeDir: settings.homeDir,
    })),
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
    cores: availableParallelism(),
    cwd: process.cwd(),
    stdin: {
      // isatty, not process.stdin.isTTY: touching process.stdin opens a handle on the pipe for every command.
      isTTY: isatty(0),
      readAll: async () => {
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      },
    },
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
      const message = explainError(err, {
        databaseUrl: config ? config.databaseUrl : settings.asGiven.databaseUrl,
        model: config?.model.model ?? settings.asGiven.model,
        hfEndpoint: config?.model.hfEndpoint ?? settings.asGiven.hfEndpoint,
        pgEnv: process.env,
      });
      process.stderr.write(`embedsync: ${message}\n`);
      if (settings.debug) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
      process.exitCode = 1;
    }
  },
);
