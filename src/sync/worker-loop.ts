// A claim/process loop in the style of pg-boss' workers, with the work injected so the loop itself is
// small and testable: fetch() claims a batch (null when there is nothing to do), process() handles it.
// Idle, the loop sleeps until wake() (a NOTIFY) or the poll interval (the backstop for lost notifications);
// after a wake it waits a short debounce so a burst of changes lands in one batch. stop() is idempotent:
// no new claims, the batch in hand finishes (its AbortSignal fires after the grace period, so process()
// can give the rows back), and it resolves once the loop has exited.

export interface ProcessResult {
  /** Pause before the next claim (e.g. the encoder backend is unavailable). */
  readonly pauseMs?: number;
}

export interface WorkerLoopOptions<B> {
  readonly fetch: () => Promise<B | null>;
  readonly process: (batch: B, signal: AbortSignal) => Promise<ProcessResult | void>;
  readonly pollIntervalMs: number;
  readonly debounceMs: number;
  readonly onError: (err: unknown) => void;
  /** Backoff after a failed fetch/process (database down): doubles from min to max. */
  readonly errorBackoffMinMs?: number;
  readonly errorBackoffMaxMs?: number;
}

export interface WorkerLoop {
  wake(): void;
  /** Resolves when the loop has exited; after graceMs the in-flight batch is told to abort. */
  stop(graceMs?: number): Promise<void>;
  readonly busy: boolean;
}

export function startWorkerLoop<B>(o: WorkerLoopOptions<B>): WorkerLoop {
  let stopping = false;
  let woken = false;
  let wakeSleeper: (() => void) | undefined;
  let stopWaiter: (() => void) | undefined;
  let inFlight: AbortController | undefined;
  let errors = 0;
  let stopped: Promise<void> | undefined;

  /** Sleeps up to ms; returns early on wake() or stop(). */
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wakeSleeper = undefined;
        resolve();
      }
      wakeSleeper = done;
    });
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      // Not interrupted by wake(): only stop() cuts a pause short.
      const t = setTimeout(() => { stopWaiter = undefined; resolve(); }, ms);
      stopWaiter = () => { clearTimeout(t); stopWaiter = undefined; resolve(); };
    });

  const backoff = (): number => {
    errors += 1;
    const min = o.errorBackoffMinMs ?? 100;
    return Math.min(o.errorBackoffMaxMs ?? 10_000, min * 2 ** (errors - 1));
  };

  const loop = async (): Promise<void> => {
    while (!stopping) {
      woken = false;
      let batch: B | null;
      try {
        batch = await o.fetch();
      } catch (err) {
        o.onError(err);
        await pause(backoff());
        continue;
      }
      if (batch === null) {
        errors = 0;
        if (!woken) await sleep(o.pollIntervalMs);
        if (woken && !stopping && o.debounceMs > 0) await pause(o.debounceMs);
        continue;
      }
      const controller = new AbortController();
      inFlight = controller;
      try {
        const r = await o.process(batch, controller.signal);
        errors = 0;
        if (r?.pauseMs && !stopping) await pause(r.pauseMs);
      } catch (err) {
        o.onError(err);
        if (!stopping) await pause(backoff());
      } finally {
        inFlight = undefined;
      }
    }
  };
  const running = loop();

  return {
    wake() {
      woken = true;
      wakeSleeper?.();
    },
    get busy() { return inFlight !== undefined; },
    stop(graceMs = 10_000) {
      stopped ??= (async () => {
        stopping = true;
        wakeSleeper?.();
        stopWaiter?.();
        const t = setTimeout(() => inFlight?.abort(new Error('shutting down')), graceMs);
        try {
          await running;
        } finally {
          clearTimeout(t);
        }
      })();
      return stopped;
    },
  };
}
