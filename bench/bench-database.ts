// A throwaway database for a benchmark run: on DATABASE_URL's server when set, else on a private cluster
// started for the run (scripts/pg-start.sh). Dropped, and the cluster stopped, when the run ends.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export async function withBenchDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  let pgDir: string | undefined;
  let base = process.env.DATABASE_URL;
  if (!base) {
    pgDir = execFileSync('mktemp', ['-d', '/tmp/embedsync-bench-pg.XXXXXX']).toString().trim();
    base = execFileSync('bash', ['scripts/pg-start.sh', pgDir]).toString().trim();
  }
  const dbName = `embedsync_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(base);
    u.pathname = `/${dbName}`;
    return await fn(u.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    if (pgDir) execFileSync('bash', ['scripts/pg-stop.sh', pgDir]);
  }
}
