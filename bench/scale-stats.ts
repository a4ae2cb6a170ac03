// What bench:scale reads from the cluster: CPU seconds of its processes, rows read from leads, statement
// totals from pg_stat_statements, and a flush of a pool's statistics before a reading.
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';

/** CPU seconds of every process of the cluster (exited backends count through the postmaster's cutime). */
export function clusterCpuSeconds(postmaster: number | undefined): number {
  if (postmaster === undefined) return NaN;
  const fields = (pid: number | string) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  const pm = fields(postmaster);
  let ticks = Number(pm[11]) + Number(pm[12]) + Number(pm[13]) + Number(pm[14]);
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const f = fields(p);
      if (Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12]);
    } catch { /* exited meanwhile */ }
  }
  return ticks / 100;
}

export interface TableReads { seq: number; idx: number; scans: number; verified: number }
/** Rows of leads read by sequential scans and through indexes, its sequential scans, rows verified by the sweep. */
export async function tableReads(db: pg.Pool): Promise<TableReads> {
  const r = (await db.query<{ seq: string; idx: string; scans: string; verified: string }>(`SELECT coalesce(seq_tup_read, 0) AS seq,
    coalesce(idx_tup_fetch, 0) AS idx, coalesce(seq_scan, 0) AS scans,
    (SELECT coalesce(sum(rows_total), 0) FROM embedsync.sweep WHERE pass = 'verify') AS verified
    FROM pg_stat_user_tables WHERE relname = 'leads'`)).rows[0]!;
  return { seq: Number(r.seq), idx: Number(r.idx), scans: Number(r.scans), verified: Number(r.verified) };
}

/** Every session of the pool flushes its statistics now (else within seconds: into the next measurement). */
export async function flushStats(db: pg.Pool, sessions: number): Promise<void> {
  const held = await Promise.all(Array.from({ length: sessions }, () => db.connect()));
  try {
    for (const c of held) await c.query('SELECT pg_stat_force_next_flush()');
  } finally {
    for (const c of held) c.release();
  }
}

export async function statementTotals(db: pg.Pool, like: string): Promise<{ calls: number; ms: number; rows: number }> {
  const r = (await db.query<{ calls: string; ms: number; rows: string }>(
    `SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(total_exec_time), 0)::float8 AS ms,
    coalesce(sum(rows), 0) AS rows FROM pg_stat_statements WHERE query LIKE $1`, [like])
    .catch(() => ({ rows: [{ calls: '0', ms: 0, rows: '0' }] }))).rows[0]!;
  return { calls: Number(r.calls), ms: r.ms, rows: Number(r.rows) };
}
