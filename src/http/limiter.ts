// Caps concurrent encodes (MAX_CONCURRENT_REQUESTS) with a bounded FIFO wait queue (MAX_QUEUED_REQUESTS) and a
// deadline (ENCODE_TIMEOUT_SECONDS) covering the wait and the encode. A timed-out encode is aborted and its caller
// answered at once, but its slot is only freed when the encoder actually returns, so the cap always holds.

export class OverloadedError extends Error {
  override name = 'OverloadedError';
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message);
  }
}

export class EncodeTimeoutError extends Error {
  override name = 'EncodeTimeoutError';
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message);
  }
}

export interface LimiterOptions {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly timeoutMs: number;
  /** Called with the number of running tasks whenever it changes (a gauge). */
  readonly onActive?: (running: number) => void;
}

interface Waiter {
  readonly start: () => void;
}

export class ConcurrencyLimiter {
  #running = 0;
  readonly #queue: Waiter[] = [];
  /** Moving average of task duration, for a useful Retry-After. */
  #avgMs = 100;

  constructor(private readonly options: LimiterOptions) {}

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Every slot and every queue place taken: the next run() is refused at once. */
  get full(): boolean {
    return this.#running >= this.options.maxConcurrent && this.#queue.length >= this.options.maxQueued;
  }

  /** The error run() would refuse with now (for callers that check before doing work). */
  overloaded(): OverloadedError {
    const { maxConcurrent, maxQueued } = this.options;
    return new OverloadedError(
      `server busy: ${maxConcurrent} encodes running (MAX_CONCURRENT_REQUESTS) and ${maxQueued} waiting (MAX_QUEUED_REQUESTS); retry later`,
      this.#retryAfter(),
    );
  }

  /**
   * Runs `task` within the cap; throws OverloadedError when the queue is full, EncodeTimeoutError at the deadline:
   * `timeoutMs` from now, or the earlier `deadline` (a performance.now() time) of a request made of several runs.
   */
  run<T>(task: (signal: AbortSignal) => Promise<T>, deadline?: number): Promise<T> {
    const { maxConcurrent, timeoutMs } = this.options;
    if (this.full) return Promise.reject(this.overloaded());
    const waitMs = Math.max(0, Math.min(timeoutMs, deadline === undefined ? timeoutMs : deadline - performance.now()));
    return new Promise<T>((resolve, reject) => {
      const controller = new AbortController();
      let settled = false;
      let waiter: Waiter | undefined;
      const timer = setTimeout(() => {
        settled = true;
        if (waiter) {
          const i = this.#queue.indexOf(waiter);
          if (i >= 0) this.#queue.splice(i, 1);
        }
        const err = new EncodeTimeoutError(`encode took longer than ENCODE_TIMEOUT_SECONDS (${timeoutMs / 1000} s)`, this.#retryAfter());
        controller.abort(err);
        reject(err);
      }, waitMs);
      timer.unref?.();

      const start = () => {
        waiter = undefined;
        this.#setRunning(this.#running + 1);
        const began = performance.now();
        let result: Promise<T>;
        try {
          result = task(controller.signal);
        } catch (err) {
          result = Promise.reject(err);
        }
        result.then(
          (value) => { if (!settled) { settled = true; clearTimeout(timer); resolve(value); } },
          (err: unknown) => { if (!settled) { settled = true; clearTimeout(timer); reject(err); } },
        ).finally(() => {
          this.#avgMs = 0.8 * this.#avgMs + 0.2 * (performance.now() - began);
          this.#setRunning(this.#running - 1);
          this.#next();
        });
      };
      if (this.#running < maxConcurrent) start();
      else {
        waiter = { start };
        this.#queue.push(waiter);
      }
    });
  }

  #next(): void {
    while (this.#running < this.options.maxConcurrent && this.#queue.length > 0) this.#queue.shift()!.start();
  }

  #setRunning(n: number): void {
    this.#running = n;
    this.options.onActive?.(n);
  }

  /** Seconds until a slot is likely free: the queue ahead drained at the observed pace. */
  #retryAfter(): number {
    const waves = (this.#queue.length + 1) / this.options.maxConcurrent;
    return Math.min(60, Math.max(1, Math.ceil((waves * this.#avgMs) / 1000)));
  }
}
