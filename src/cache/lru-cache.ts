// In-process LRU with a TTL. A Map keeps insertion order, so re-inserting on read makes the first key the
// least recently used one. Expired entries are dropped lazily on read and when they reach the LRU end.

interface Entry<V> {
  readonly value: V;
  readonly expiresAt: number;
}

export class LruTtlCache<V> {
  readonly #map = new Map<string, Entry<V>>();

  /** ttlMs 0: entries never expire. maxSize 0: nothing is stored. */
  constructor(
    readonly maxSize: number,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.#map.size;
  }

  get(key: string): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    this.#map.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.#map.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V): void {
    if (this.maxSize <= 0) return;
    this.#map.delete(key);
    while (this.#map.size >= this.maxSize) {
      const oldest = this.#map.keys().next().value as string;
      this.#map.delete(oldest);
    }
    this.#map.set(key, { value, expiresAt: this.ttlMs > 0 ? this.now() + this.ttlMs : Infinity });
  }

  clear(): number {
    const n = this.#map.size;
    this.#map.clear();
    return n;
  }
}
