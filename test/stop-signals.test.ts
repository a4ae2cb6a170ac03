// SIGINT and SIGTERM sent to the npm process alone (a supervisor, `kill <pid>`, a CI step's timeout) stop what npm
// started: `npm start` stops the demo and removes its throwaway PostgreSQL, `npm run embedsync -- run` stops the
// service cleanly. Ctrl-C in a terminal reaches the whole process group; a signal to one pid must do the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { TINY_MODEL_DIR } from './support/tiny-model-dir.ts';
import { freePort } from '../scripts/free-port.ts';
import { createTestDatabase, LEADS_DDL } from './helpers/db.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

interface Proc { readonly pid: number; readonly ppid: number; readonly cmd: string }

function processes(): Proc[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return [{ pid: Number(d), ppid, cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() }];
    } catch {
      return []; // gone while listing
    }
  });
}

/** The process tree under `pid` (itself excluded). */
function descendants(pid: number): Proc[] {
  const all = processes();
  const out: Proc[] = [];
  for (let frontier = [pid]; frontier.length > 0;) {
    const next = all.filter((p) => frontier.includes(p.ppid));
    out.push(...next);
    frontier = next.map((p) => p.pid);
  }
  return out;
}

/** Alive and not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function startNpm(args: readonly string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  // Its own process group, so that the signal under test goes to npm alone and the cleanup can reach everything.
  const child = spawn('npm', args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  return { child, output: () => out };
}

async function until(what: string, child: ChildProcess, output: () => string, pattern: RegExp, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!pattern.test(output())) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`npm exited before ${what}:\n${output()}`);
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | string> {
  if (child.exitCode === null && child.signalCode === null) {
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    await once(child, 'exit');
    clearTimeout(timer);
  }
  return child.exitCode ?? child.signalCode!;
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // nothing left in it
  }
}

/** The environment of a newcomer: no database settings, the bundled test model, one thread. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|PG|EMBEDSYNC_|npm_)/.test(k)));
  return { ...base, EMBEDDING_MODEL: TINY_MODEL_DIR, EMBEDDING_THREADS: '1', EMBEDDING_SESSIONS: '1', ...extra };
}

for (const signal of SIGNALS) {
  test(`npm start: ${signal} to the npm process stops the demo and removes its throwaway PostgreSQL`, { timeout: 240_000 }, async () => {
    const { child, output } = startNpm(['start'], cleanEnv({ PORT: String(await freePort()) }));
    let dataDir: string | undefined;
    try {
      await until('the demo answer', child, output, /Ctrl-C to stop\./, 200_000);
      const port = /started a throwaway PostgreSQL at postgresql:\/\/\S+?:(\d+)\//.exec(output())?.[1];
      assert.ok(port, output());
      const tree = descendants(child.pid!);
      assert.ok(tree.some((p) => /scripts\/start\.sh/.test(p.cmd)), 'start.sh runs under npm');
      assert.ok(tree.some((p) => /scripts\/demo\.ts/.test(p.cmd)), 'the demo runs under npm');
      const postmaster = processes().find((p) => /\bpostgres\b.* -p \d+ /.test(p.cmd) && p.cmd.includes(` -p ${port} `));
      assert.ok(postmaster, 'the throwaway cluster runs');
      dataDir = / -D (\S+)/.exec(postmaster.cmd)![1]!;
      assert.ok(existsSync(dataDir));

      process.kill(child.pid!, signal);
      assert.equal(await exitOf(child, 60_000), 0, output());
      const left = [...tree, postmaster].filter((p) => alive(p.pid));
      assert.deepEqual(left.map((p) => p.cmd), [], 'nothing npm started outlives it');
      assert.ok(!existsSync(dataDir), `the cluster's directory ${dataDir} is removed`);
    } finally {
      // Whatever a failure left: the process group (orphans keep it) and the cluster.
      killGroup(child);
      if (dataDir && existsSync(dataDir)) spawnSync('bash', ['scripts/pg-stop.sh', dataDir.replace(/\/data$/, '')], { cwd: ROOT });
    }
  });
}

test('npm run embedsync -- run: SIGINT or SIGTERM to the npm process, or Ctrl-C to the group, shuts the service down cleanly', {
  timeout: 300_000,
}, async () => {
  const db = await createTestDatabase('signals');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(LEADS_DDL);
    const env = cleanEnv({ DATABASE_URL: db.url });
    const migrated = spawnSync(process.execPath, ['bin/embedsync.js', 'migrate'], { cwd: ROOT, env, encoding: 'utf8' });
    assert.equal(migrated.status, 0, migrated.stderr);
    // Ctrl-C in a terminal: the group's SIGINT reaches node from the terminal and again from npm, at once: one request.
    for (const [signal, to] of [...SIGNALS.map((s) => [s, 'npm'] as const), ['SIGINT', 'group'] as const]) {
      const { child, output } = startNpm(['run', 'embedsync', '--', 'run'], { ...env, PORT: String(await freePort()), LOG_LEVEL: 'info' });
      try {
        await until('the service up', child, output,
          /"event":"sync_started"[\s\S]*"event":"http_listening"|"event":"http_listening"[\s\S]*"event":"sync_started"/, 120_000);
        const tree = descendants(child.pid!);
        assert.ok(tree.some((p) => /src\/main\.ts run/.test(p.cmd)), tree.map((p) => p.cmd).join('\n'));
        process.kill(to === 'npm' ? child.pid! : -child.pid!, signal);
        assert.equal(await exitOf(child, 60_000), 0, output());
        assert.match(output(), /"event":"shutdown"/);
        assert.doesNotMatch(output(), /exiting now/, 'not taken for a second Ctrl-C');
        assert.deepEqual(tree.filter((p) => alive(p.pid)).map((p) => p.cmd), [], 'nothing npm started outlives it');
      } finally {
        killGroup(child);
      }
    }
  } finally {
    await client.end();
    await db.drop();
  }
});
