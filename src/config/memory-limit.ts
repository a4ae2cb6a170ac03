// The memory embedsync may use where it runs: the container's limit (cgroup v2 memory.max, cgroup v1
// memory.limit_in_bytes, the lowest along the process's cgroup path) or else the machine's memory. The encoder
// sizes its sessions to it (src/encoder/memory-fit.ts), so a 1 GiB container is not killed under load.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const MEMORY_SOURCES = ['EMBEDSYNC_MEMORY_LIMIT', 'cgroup v2', 'cgroup v1', 'machine'] as const;
export type MemorySource = (typeof MEMORY_SOURCES)[number];

export interface MemoryLimit {
  readonly bytes: number;
  /** Where the figure came from, for the log line that reports the choice. */
  readonly source: MemorySource;
}

/** cgroup v1 reports "no limit" as a page-rounded 2^63 - 1; anything this large is no limit. */
const UNLIMITED = 2 ** 60;

export interface MemoryLimitOptions {
  /** The machine's memory (os.totalmem()). */
  readonly machineBytes: number;
  /** Where /proc and /sys are found: '/' on a real system, a fixture folder in tests. */
  readonly root?: string;
}

/** The tightest cgroup limit of this process, else the machine's memory. Never throws. */
export function readMemoryLimit(o: MemoryLimitOptions): MemoryLimit {
  const root = o.root ?? '/';
  const machine: MemoryLimit = { bytes: o.machineBytes, source: 'machine' };
  const cgroups = readText(join(root, 'proc/self/cgroup'));
  if (cgroups === undefined) return machine;
  let best = machine;
  const take = (bytes: number | undefined, source: MemorySource) => {
    if (bytes !== undefined && bytes < best.bytes) best = { bytes, source };
  };
  for (const line of cgroups.split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line.trim()) ?? [];
    if (path === undefined) continue;
    if (controllers === '') take(lowestAlong(join(root, 'sys/fs/cgroup'), path, 'memory.max'), 'cgroup v2');
    else if (controllers!.split(',').includes('memory')) {
      take(lowestAlong(join(root, 'sys/fs/cgroup/memory'), path, 'memory.limit_in_bytes'), 'cgroup v1');
    }
  }
  return best;
}

/**
 * The lowest limit in `file` from the process's cgroup up to the mount's root. In a container with its own
 * cgroup namespace the path is "/" and the mount's root is its cgroup; without one the path names the host's
 * hierarchy, which the container may not see: then only the mount's root counts.
 */
function lowestAlong(mount: string, path: string, file: string): number | undefined {
  let lowest: number | undefined;
  const parts = path.split('/').filter((p) => p !== '' && p !== '..');
  for (let depth = parts.length; depth >= 0; depth--) {
    const v = parseLimit(readText(join(mount, ...parts.slice(0, depth), file)));
    if (v !== undefined && (lowest === undefined || v < lowest)) lowest = v;
  }
  return lowest;
}

function parseLimit(text: string | undefined): number | undefined {
  const t = text?.trim();
  if (!t || t === 'max' || !/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n > 0 && n < UNLIMITED ? n : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** "1GiB", "900MB", "512M", "2g" or bytes → bytes; MB and GB are taken as MiB and GiB (as docker and Kubernetes mean Mi/Gi). */
export function parseMemorySize(raw: string): { ok: true; value: number } | { ok: false; problem: string } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$/i.exec(raw);
  if (!m) return { ok: false, problem: `must be a size like 1GiB or 900MiB, got ${JSON.stringify(raw)}` };
  const power = ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
  const bytes = Math.round(Number(m[1]) * 1024 ** power);
  if (bytes < 64 * 1024 * 1024) return { ok: false, problem: `must be at least 64MiB, got ${JSON.stringify(raw)}` };
  return { ok: true, value: bytes };
}
