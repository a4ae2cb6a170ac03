// Shares the encoder's worker threads (`capacity` runs at a time, one per worker) between the sync worker and
// the HTTP API. The next run is picked by start-time fair queueing over the encoder time each source has used:
// while both want it, the sync worker gets `syncShare` of the time and the HTTP API the rest, so neither can
// starve the other. A source with nothing to do leaves its share to the other and banks no credit while idle
// (it joins level with the other, counting the other's runs in flight up to now, not only those finished);
// on a tie the source that did not start the last run goes first, so a query arriving behind a backlog waits
// only for the runs already in flight.
//
// Urgent runs (a search query, live sync rows: EncodePriority) go before any bulk run, queries before live rows,
// whatever the shares; their time is charged to their source like any other, so the share holds over all the
// work of each source while both are busy. While urgent work has been about lately (interactive()), the run
// sizer cuts bulk work into short runs, so an urgent run waits little for a worker (run-sizer.ts); while queries
// have been about, bulk work also leaves one worker free, so a query starts at once instead of waiting for a
// run in flight (a run cannot be shorter than its longest text).
//
// A source holding work in hand (hold(): a claimed batch between its runs, doing its database round trips) that
// is behind on its share keeps the encoder free for it for at most what it is owed, and that time counts as its
// own; without it a worker that only competed for runs would lose every gap to a saturating HTTP API.
import { DEFAULT_SYNC_SHARE } from '../config/index.ts';
import { ENCODE_SOURCES, EncodeError, type EncodePriority, type EncodeSource, type EncoderScheduler } from './types.ts';

/** How long after the last urgent run bulk work stays in short runs: a person typing searches pauses for seconds. */
export const INTERACTIVE_WINDOW_MS = 10_000;

interface Pending {
  readonly seq: number;
  readonly source: EncodeSource;
  readonly priority: EncodePriority;
  /** The run's size (e.g. padded tokens): within a source the smallest goes first, until one has waited too long. */
  readonly cost: number;
  readonly queuedAt: number;
  readonly start: () => void;
  readonly drop: (reason: unknown) => void;
}

export type ChargeListener = (source: EncodeSource, seconds: number) => void;
export type WaitListener = (priority: EncodePriority, seconds: number) => void;

export class RunScheduler implements EncoderScheduler {
  #seq = 0;
  readonly #queues: Record<EncodeSource, Pending[]> = { sync: [], http: [] };
  /** Query and live runs of either source, in arrival order: they go before every bulk run. */
  readonly #urgent: Pending[] = [];
  #lastUrgentAt = -Infinity;
  #lastQueryAt = -Infinity;
  readonly #waitListeners = new Set<WaitListener>();
  /** Seconds used divided by the source's share: the source with the least goes next. */
  readonly #virtual: Record<EncodeSource, number> = { sync: 0, http: 0 };
  readonly #used: Record<EncodeSource, number> = { sync: 0, http: 0 };
  readonly #running: Record<EncodeSource, number> = { sync: 0, http: 0 };
  /** Sum of the start times of the source's runs in flight: with #running, their time so far. */
  readonly #startedSum: Record<EncodeSource, number> = { sync: 0, http: 0 };
  #lastStarted: EncodeSource | undefined;
  #shares: Readonly<Record<EncodeSource, number>>;
  readonly #listeners = new Set<ChargeListener>();
  #idleWaiters: (() => void)[] = [];
  readonly #holds: Record<EncodeSource, number> = { sync: 0, http: 0 };
  /** The encoder kept free for a source behind on its share, since when, and the timer that ends it. */
  #reserved: { readonly source: EncodeSource; readonly since: number; readonly timer: ReturnType<typeof setTimeout> } | undefined;

  /**
   * `now` in milliseconds; tests pass a clock of their own. `capacity`: runs at once (the encoder's workers).
   * `agingMs`: how long the oldest run of a source may be passed over by smaller ones.
   */
  constructor(
    syncShare = DEFAULT_SYNC_SHARE,
    private readonly now: () => number = () => performance.now(),
    readonly capacity = 1,
    private readonly agingMs = 3000,
  ) {
    this.#shares = sharesOf(syncShare);
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  set syncShare(share: number) {
    this.#shares = sharesOf(share);
  }

  get syncShare(): number {
    return this.#shares.sync;
  }

  /**
   * Runs `task` when its turn comes; a `signal` that aborts while it waits takes it out of the queue. Within a
   * source, the run of least `cost` goes first (a one-text query does not wait behind a batch of the same source),
   * unless the oldest has waited longer than `agingMs`: then it goes, so large runs are never starved.
   */
  run<T>(source: EncodeSource, task: () => Promise<T>, signal?: AbortSignal, cost = 0, priority: EncodePriority = 'bulk'): Promise<T> {
    if (signal?.aborted) return Promise.reject(aborted(signal));
    const urgent = priority !== 'bulk';
    if (urgent) this.#lastUrgentAt = this.now();
    if (priority === 'query') this.#lastQueryAt = this.now();
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const q = urgent ? this.#urgent : this.#queues[source];
        const i = q.indexOf(entry);
        if (i >= 0) {
          q.splice(i, 1);
          reject(aborted(signal!));
          this.#notifyIdle();
        }
      };
      const entry: Pending = {
        seq: this.#seq++,
        source,
        priority,
        cost,
        queuedAt: this.now(),
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          const began = this.now();
          for (const l of this.#waitListeners) l(priority, (began - entry.queuedAt) / 1000);
          this.#running[source] += 1;
          this.#startedSum[source] += began;
          this.#lastStarted = source;
          let result: Promise<T>;
          try {
            result = task();
          } catch (err) {
            result = Promise.reject(err);
          }
          result.then(resolve, reject).finally(() => {
            this.#running[source] -= 1;
            this.#startedSum[source] -= began;
            this.charge(source, (this.now() - began) / 1000);
            this.#next();
          });
        },
        drop: reject,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#join(source);
      (urgent ? this.#urgent : this.#queues[source]).push(entry);
      this.#next();
    });
  }

  /**
   * `source` has work in hand that will need the encoder again soon (a claimed batch): while it is behind on its
   * share, runs of the other source wait for it. Returns the release function (idempotent).
   */
  hold(source: EncodeSource): () => void {
    this.#join(source);
    this.#holds[source] += 1;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#holds[source] -= 1;
      this.#next();
    };
  }

  /** Counts encoder work done outside a run (tokenizing a batch) towards `source`'s share. */
  charge(source: EncodeSource, seconds: number): void {
    if (!(seconds > 0)) return;
    this.#used[source] += seconds;
    this.#virtual[source] += seconds / this.#shares[source];
    for (const l of this.#listeners) l(source, seconds);
  }

  /** Encoder seconds used by each source so far. */
  usedSeconds(source: EncodeSource): number {
    return this.#used[source];
  }

  /** Called with every charge (a metrics counter); returns the unsubscribe function. */
  onCharge(listener: ChargeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Called with every run's wait for a worker, by priority (a metrics histogram); returns the unsubscribe function. */
  onWait(listener: WaitListener): () => void {
    this.#waitListeners.add(listener);
    return () => this.#waitListeners.delete(listener);
  }

  /** Urgent work waits, or came within INTERACTIVE_WINDOW_MS: bulk work should run in short runs. */
  interactive(): boolean {
    return this.#urgent.length > 0 || this.now() - this.#lastUrgentAt < INTERACTIVE_WINDOW_MS;
  }

  /** Resolves once nothing runs or waits. */
  idle(): Promise<void> {
    if (this.#runningCount() === 0 && this.#pending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #active(source: EncodeSource): boolean {
    return this.#queues[source].length > 0 || this.#running[source] > 0 || this.#holds[source] > 0 ||
      this.#urgent.some((p) => p.source === source);
  }

  #runningCount(): number {
    return this.#running.sync + this.#running.http;
  }

  /** A source that was idle joins at the current virtual time: no credit for the time it did not ask. */
  #join(source: EncodeSource): void {
    if (!this.#active(source)) this.#virtual[source] = Math.max(this.#virtual[source], this.#floor(source));
  }

  /**
   * The least virtual time among the other active sources (the time a newcomer joins at), counting their runs in
   * flight and encoder time kept free for them up to now: those are charged only when they end, and the part
   * before the newcomer asked was the other's alone (without it a newcomer was owed a whole run it never waited for).
   */
  #floor(source: EncodeSource): number {
    let floor = -Infinity;
    for (const s of ENCODE_SOURCES) {
      if (s === source || !this.#active(s)) continue;
      const ms = this.#running[s] * this.now() - this.#startedSum[s] +
        (this.#reserved?.source === s ? this.now() - this.#reserved.since : 0);
      const v = this.#virtual[s] + ms / 1000 / this.#shares[s];
      floor = floor === -Infinity ? v : Math.min(floor, v);
    }
    return floor;
  }

  #pending(): number {
    return ENCODE_SOURCES.reduce((n, s) => n + this.#queues[s].length, this.#urgent.length);
  }

  #next(): void {
    while (this.#runningCount() < this.capacity && this.#startOne());
  }

  /** Starts the next run if one may start now; false when nothing waits or the encoder is kept free. */
  #startOne(): boolean {
    if (this.#reserved) {
      const { source, since, timer } = this.#reserved;
      clearTimeout(timer);
      this.#reserved = undefined;
      this.#virtual[source] += (this.now() - since) / 1000 / this.#shares[source];
    }
    // Urgent runs first, queries before live rows, each in arrival order; nothing is kept free against them.
    if (this.#urgent.length > 0) {
      const i = this.#urgent.findIndex((p) => p.priority === 'query');
      this.#urgent.splice(i >= 0 ? i : 0, 1)[0]!.start();
      return true;
    }
    // Queries lately: the last free worker waits for the next one. A run ending calls #next again.
    if (this.capacity > 1 && this.#runningCount() + 1 >= this.capacity && this.now() - this.#lastQueryAt < INTERACTIVE_WINDOW_MS) {
      return false;
    }
    let pick: EncodeSource | undefined;
    for (const s of ENCODE_SOURCES) {
      const head = this.#queues[s][0];
      if (!head) continue;
      if (pick === undefined) { pick = s; continue; }
      const [a, b] = [this.#virtual[s], this.#virtual[pick]];
      // Ties go to the source that did not start the last run, then to whichever waited longer.
      const tie = a === b && (this.#lastStarted === pick || (this.#lastStarted !== s && head.seq < this.#queues[pick][0]!.seq));
      if (a < b || tie) pick = s;
    }
    if (pick === undefined) {
      this.#notifyIdle();
      return false;
    }
    // Only the last free worker is kept for a source between its runs: one is all its next run needs.
    const lastSlot = this.#runningCount() + 1 >= this.capacity;
    for (const s of ENCODE_SOURCES) {
      if (!lastSlot || s === pick || this.#holds[s] === 0 || this.#queues[s].length > 0 || this.#running[s] > 0 ||
        this.#virtual[s] >= this.#virtual[pick]) continue;
      // `s` is between two runs of a batch and behind: keep the encoder free for it until it asks again, lets
      // go, or the reserved time has used up what it was owed.
      const ms = Math.ceil((this.#virtual[pick] - this.#virtual[s]) * this.#shares[s] * 1000);
      const timer = setTimeout(() => this.#next(), ms);
      this.#reserved = { source: s, since: this.now(), timer };
      return false;
    }
    const q = this.#queues[pick];
    q.splice(this.#nextOf(q), 1)[0]!.start();
    return true;
  }

  /** Index of the run to start next in a source's queue (kept in arrival order). */
  #nextOf(q: readonly Pending[]): number {
    if (this.now() - q[0]!.queuedAt >= this.agingMs) return 0;
    let best = 0;
    for (let i = 1; i < q.length; i++) if (q[i]!.cost < q[best]!.cost) best = i;
    return best;
  }

  #notifyIdle(): void {
    if (this.#runningCount() > 0 || this.#pending() > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}

function sharesOf(syncShare: number): Readonly<Record<EncodeSource, number>> {
  if (!(syncShare > 0 && syncShare < 1)) throw new RangeError(`the sync share must be between 0 and 1, got ${syncShare}`);
  return { sync: syncShare, http: 1 - syncShare };
}

function aborted(signal: AbortSignal): EncodeError {
  return new EncodeError('encoding aborted while waiting for the encoder', 'timeout', undefined, { cause: signal.reason });
}
