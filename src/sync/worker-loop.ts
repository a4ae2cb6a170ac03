// A claim/process loop in the style of pg-boss' workers, with the work injected so the loop itself is
// small and testable: fetch() claims a batch (null when there is nothing to do), process() handles it.
// Idle, the loop sleeps until wake() (a NOTIFY) or the poll interval (the backstop for lost notifications);
// after a wake it waits a short debounce so a burst of changes lands in one batch. stop() is idempotent:
// no new claims, the batch in hand finishes (its AbortSignal fires after the grace period, so process()
// can give the rows back), and it resolves once the loop has exited.
import { setTimeout as sleepMs } from 'node:timers/promises';
import { backoff } from '../lib/backoff.ts';

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
  /**
   * Wakes the loop; resolves once a fetch begun after the call has returned (or the loop has stopped). A loop that
   * finds nothing to do leaves nothing else to observe: this is how a test knows it has had its chance.
   */
  pass(): Promise<void>;
  /** Resolves when the loop has exited; after graceMs the in-flight batch is told to abort. */
  stop(graceMs?: number): Promise<void>;
  readonly busy: boolean;
}

export function startWorkerLoop<B>(o: WorkerLoopOptions<B>): WorkerLoop {
  let stopping = false;
  let woken = false;
  // wake() and stop() cut a sleep short; only stop() cuts a pause short.
  let sleeping: AbortController | undefined;
  const halt = new AbortController();
  let inFlight: AbortController | undefined;
  let errors = 0;
  let stopped: Promise<void> | undefined;
  // pass(): resolved when the next fetch returns; the loop checks one array's length per fetch for them.
  let passes: (() => void)[] = [];
  const takePasses = (): (() => void)[] | undefined => {
    if (passes.length === 0) return undefined;
    const taken = passes;
    passes = [];
    return taken;
  };
  const endPasses = (taken: (() => void)[] | undefined): void => { for (const f of taken ?? []) f(); };

  // stop() may come while fetch() is out: it finds no sleep to cut then, so the sleep that follows must see it.
  const sleep = async (ms: number): Promise<void> => {
    const c = new AbortController();
    sleeping = c;
    await sleepMs(ms, undefined, { signal: AbortSignal.any([c.signal, halt.signal]) }).catch(() => undefined);
    if (sleeping === c) sleeping = undefined;
  };
  const pause = (ms: number): Promise<void> => sleepMs(ms, undefined, { signal: halt.signal }).catch(() => undefined);

  const errorBackoff = backoff({ baseMs: o.errorBackoffMinMs ?? 100, maxMs: o.errorBackoffMaxMs ?? 10_000 });
  const nextErrorPause = (): number => errorBackoff.delayMs(errors++);

  const loop = async (): Promise<void> => {
    while (!stopping) {
      woken = false;
      let batch: B | null;
      const asked = takePasses();
      try {
        batch = await o.fetch();
      } catch (err) {
        endPasses(asked);
        o.onError(err);
        await pause(nextErrorPause());
        continue;
      }
      endPasses(asked);
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
        if (!stopping) await pause(nextErrorPause());
      } finally {
        inFlight = undefined;
      }
    }
  };
  const running = loop().finally(() => endPasses(takePasses()));
  const wake = (): void => {
    woken = true;
    sleeping?.abort();
  };

  return {
    wake,
    pass() {
      if (stopping) return Promise.resolve();
      const passed = new Promise<void>((resolve) => passes.push(resolve));
      wake();
      return passed;
    },
    get busy() { return inFlight !== undefined; },
    stop(graceMs = 10_000) {
      stopped ??= (async () => {
        stopping = true;
        sleeping?.abort();
        halt.abort();
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
