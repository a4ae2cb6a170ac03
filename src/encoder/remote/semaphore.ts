// At most `limit` holders at once: EMBEDDING_CONCURRENCY requests in flight per remote, shared by the sync worker
// and the HTTP API of one process. A freed slot goes to the most urgent waiter (a query, then live rows, then
// bulk work), first come first served within a priority: the same order the local encoder's scheduler keeps.
import { ENCODE_PRIORITIES, type EncodePriority } from '../types.ts';

export class Semaphore {
  private active = 0;
  private readonly waiting: Record<EncodePriority, (() => void)[]> = { query: [], live: [], bulk: [] };
  /** Highest number of holders seen at once. */
  peak = 0;

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>, priority: EncodePriority = 'bulk'): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting[priority].push(resolve));
    else this.active += 1;
    this.peak = Math.max(this.peak, this.active);
    try {
      return await fn();
    } finally {
      const next = ENCODE_PRIORITIES.map((p) => this.waiting[p]).find((q) => q.length > 0)?.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else this.active -= 1;
    }
  }
}
