// The rooms of src/ (its top-level folders, and main.ts) stand on floors: a room imports only rooms on lower
// floors, so no two rooms can import each other, and a file of the ground floor depends on nothing else of
// src/. Also no circle of files inside a room. docs/architecture.md draws the same picture; CI runs this
// through test/rooms.test.ts, and `npm run rooms` prints the room graph.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Lowest floor first. A new room has to be placed here before anything can import it. */
export const FLOORS = [
  ['config', 'metrics', 'tracing', 'lib'],
  ['log', 'model'],
  ['encoder'],
  ['db', 'cache'],
  ['queue', 'http'],
  ['migration'],
  ['sync'],
  ['cli'],
  ['main.ts'],
] as const;

export interface RoomReport {
  /** room -> rooms it imports (type-only imports included: they tie the code as much as any other). */
  readonly edges: ReadonlyMap<string, ReadonlySet<string>>;
  readonly problems: readonly string[];
}

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|mts|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

function roomOf(file: string, src: string): string {
  const [first] = relative(src, file).split('/');
  return first!;
}

export function checkRooms(src = SRC): RoomReport {
  const floorOf = new Map<string, number>(FLOORS.flatMap((rooms, floor) => rooms.map((r) => [r, floor] as const)));
  const files = sourceFiles(src);
  const imports = new Map<string, string[]>();
  const edges = new Map<string, Set<string>>();
  const problems: string[] = [];
  for (const file of files) {
    // The compiler's own pre-parser: static, type-only, re-export and dynamic imports alike, none inside strings.
    const found = ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles
      .map((f) => f.fileName)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => resolve(dirname(file), spec))
      .filter((target) => target.startsWith(src + '/'));
    imports.set(file, found);
    const from = roomOf(file, src);
    if (!floorOf.has(from)) problems.push(`src/${from} is a room on no floor: place it in FLOORS (scripts/check-rooms.ts)`);
    for (const target of found) {
      const to = roomOf(target, src);
      if (to === from) continue;
      let set = edges.get(from);
      if (!set) edges.set(from, set = new Set());
      set.add(to);
      const [a, b] = [floorOf.get(from), floorOf.get(to)];
      if (a !== undefined && b !== undefined && b >= a) {
        problems.push(`${relative(src, file)} imports ${relative(src, target)}: ${to} is not below ${from}`);
      }
    }
  }
  for (const circle of fileCircles(imports)) {
    problems.push(`files tied in an import circle: ${circle.map((f) => relative(src, f)).join(', ')}`);
  }
  return { edges, problems: [...new Set(problems)] };
}

/** Strongly connected groups of more than one file (Tarjan), each listed from its first file. */
function fileCircles(imports: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of imports.get(v) ?? []) {
      if (!imports.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) out.push(group.sort());
    }
  };
  for (const v of imports.keys()) if (!index.has(v)) visit(v);
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { edges, problems } = checkRooms();
  for (const rooms of [...FLOORS].reverse()) {
    for (const room of rooms) console.log(`${room.padEnd(10)} -> ${[...edges.get(room) ?? []].sort().join(', ') || '(nothing)'}`);
  }
  for (const p of problems) console.error(`problem: ${p}`);
  process.exitCode = problems.length ? 1 : 0;
}
