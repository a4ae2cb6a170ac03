// One exponential backoff policy for every retry loop: the step doubles from baseMs per attempt up to maxMs,
// then jitter spreads it so that many clients retrying one recovering server do not retry in lockstep.

/**
 * none: the step itself. half ("equal jitter"): between half the step and the step. spread: between half and
 * one and a half times the step.
 */
export const JITTERS = ['none', 'half', 'spread'] as const;
export type Jitter = (typeof JITTERS)[number];

export interface BackoffOptions {
  /** The delay before the first retry (attempt 0), before jitter. */
  readonly baseMs: number;
  /** The longest step, before jitter (spread jitter may exceed it by half). */
  readonly maxMs: number;
  readonly jitter?: Jitter;
  /** The exponent stops growing here (keeps 2 ** n finite for a counter that runs on). */
  readonly maxExponent?: number;
}

export interface Backoff {
  /** Milliseconds to wait before retry `attempt` (counting from 0); not rounded. `random` is injectable. */
  delayMs(attempt: number, random?: () => number): number;
}

export function backoff(o: BackoffOptions): Backoff {
  const jitter = o.jitter ?? 'none';
  return {
    delayMs(attempt, random = Math.random) {
      const step = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(attempt, o.maxExponent ?? Infinity));
      if (jitter === 'half') return step / 2 + (step / 2) * random();
      if (jitter === 'spread') return step * (0.5 + random());
      return step;
    },
  };
}
