// The names closest to a misspelt one (edit distance, case-insensitive): what an error message offers as
// "did you mean". Nearest first; ties keep the order given.
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** Up to `count` of `names`, nearest to `key` first. */
export function nearestNames(key: string, names: readonly string[], count = 3): string[] {
  const k = key.toLowerCase();
  return names
    .map((name, i) => ({ name, i, d: editDistance(k, name.toLowerCase()) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .slice(0, count)
    .map((x) => x.name);
}
