// Per-test-file databases cloned from a template (graphile-worker's habit): fast, isolated, real Postgres.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const TEMPLATE = 'embedsync_template';

export function adminUrl(): string {
  const url = process.env.EMBEDSYNC_TEST_DATABASE_URL;
  if (!url) throw new Error('EMBEDSYNC_TEST_DATABASE_URL is not set: run tests with `npm test`, which starts a throwaway cluster');
  return url;
}

export function urlFor(database: string, base = adminUrl()): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}

async function ensureTemplate(admin: pg.Client): Promise<void> {
  // Test files run in parallel processes; one creates the template, the others wait on the lock.
  await admin.query('SELECT pg_advisory_lock(4242)');
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE]);
    if (!rowCount) {
      await admin.query(`CREATE DATABASE ${TEMPLATE}`);
      const t = new pg.Client({ connectionString: urlFor(TEMPLATE) });
      await t.connect();
      try {
        await t.query('CREATE EXTENSION IF NOT EXISTS vector');
      } finally {
        await t.end();
      }
    }
  } finally {
    await admin.query('SELECT pg_advisory_unlock(4242)');
  }
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** A fresh database (pgvector installed) for one test file; drop() at the end. */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  try {
    await ensureTemplate(admin);
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: urlFor(name),
    async drop() {
      const a = new pg.Client({ connectionString: adminUrl() });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** The demo/test source table: a leads table as our users have it. */
export const LEADS_DDL = `
CREATE TABLE leads (
  id bigserial PRIMARY KEY,
  title text,
  description text,
  city text,
  price numeric,
  status text NOT NULL DEFAULT 'new',
  created_at timestamptz NOT NULL DEFAULT now()
)`;
