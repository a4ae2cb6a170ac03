// Processes the chaos harness and the load bench drive: a throwaway PostgreSQL cluster of their own (so it can
// be restarted without disturbing anyone else's) and `embedsync` CLI children whose output is kept in files.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const PG_BIN = `/usr/lib/postgresql/${process.env.PG_MAJOR ?? '15'}/bin`;

export interface Cluster {
  readonly url: string;
  readonly dir: string;
  /** `pg_ctl restart -m fast`: every connection is dropped, in-flight transactions roll back. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a cluster with scripts/pg-start.sh in a new temp dir (as the postgres user when we are root). */
export async function startCluster(prefix = 'embedsync-chaos-'): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const { stdout } = await run('bash', [join(ROOT, 'scripts/pg-start.sh'), dir], { cwd: ROOT });
  const url = stdout.trim().split('\n').pop()!;
  const asPg = (args: string[]) =>
    (process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', ...args]) : run(args[0]!, args.slice(1)));
  let stopped = false;
  return {
    url,
    dir,
    async restart() {
      await asPg([`${PG_BIN}/pg_ctl`, '-D', join(dir, 'data'), '-l', join(dir, 'server.log'), '-m', 'fast', '-w', '-t', '60', 'restart']);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await run('bash', [join(ROOT, 'scripts/pg-stop.sh'), dir]).catch(() => undefined);
    },
  };
}

export interface CliProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves on the first stdout line containing `readyText` (rejects if the process exits first). */
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the process wrote so far (stdout + stderr), for checks on what it logged. */
  output(): string;
  readonly alive: boolean;
}

export interface SpawnOptions {
  readonly name: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly logFile?: string;
  readonly readyText?: string;
  /** Keep the output in memory (for log checks); off by default, as long runs log a lot. */
  readonly keepOutput?: boolean;
}

/** Runs `node bin/embedsync.js <args>` from the repository root. */
export function spawnCli(o: SpawnOptions): CliProcess {
  const child = spawn(process.execPath, [join(ROOT, 'bin/embedsync.js'), ...o.args], {
    cwd: ROOT, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log: WriteStream | undefined = o.logFile ? createWriteStream(o.logFile, { flags: 'a' }) : undefined;
  let kept = '';
  let tail = '';
  let alive = true;
  let markReady: () => void = () => undefined;
  let failReady: (e: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => { markReady = resolve; failReady = reject; });
  ready.catch(() => undefined);
  const onData = (b: Buffer) => {
    const s = b.toString();
    log?.write(s);
    if (o.keepOutput) kept += s;
    if (o.readyText) {
      tail = (tail + s).slice(-4096);
      if (tail.includes(o.readyText)) markReady();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  if (!o.readyText) markReady();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      alive = false;
      failReady(new Error(`${o.name} exited (${code ?? signal}) before it was ready`));
      // Let the pipes flush before closing the log.
      setImmediate(() => { log?.end(); log = undefined; resolve({ code, signal }); });
    });
  });
  return {
    name: o.name, child, ready, exited,
    output: () => kept,
    get alive() { return alive; },
  };
}

/** Kills every child still running (used on the way out, whatever happened). */
export function killAll(procs: Iterable<CliProcess>): void {
  for (const p of procs) if (p.alive) p.child.kill('SIGKILL');
}

/** Runs a CLI command to completion; rejects with its output on a non-zero exit. */
export async function runCli(args: readonly string[], env: Readonly<Record<string, string>>): Promise<string> {
  const p = spawnCli({ name: args.join(' '), args, env, keepOutput: true });
  const { code, signal } = await p.exited;
  if (code !== 0) throw new Error(`embedsync ${args.join(' ')} failed (${code ?? signal}):\n${p.output()}`);
  return p.output();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
