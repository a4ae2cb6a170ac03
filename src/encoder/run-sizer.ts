// Sizes model runs by time, not only by tokens. The model's speed (padded tokens per second) is measured on every
// run, as a moving average, and each run gets as many padded tokens as fit the target duration
// (EMBEDDING_RUN_SECONDS): a query arriving behind a backlog waits at most one such run, shutdown stops between
// runs, and a sync claim sized from the same pace finishes well inside its lease. The texts are not tokenized yet
// (that happens in the worker), so their token counts are estimated from their length with a tokens-per-character
// ratio learned from the runs as well.
import { planBatches } from './batching.ts';
import type { Pace } from './types.ts';

/** Weight of the newest run in the moving averages: quick to follow a change of load, steady on noise. */
const SMOOTHING = 0.3;

export interface RunSample {
  readonly paddedTokens: number;
  readonly tokens: number;
  readonly bytes: number;
  readonly seconds: number;
}

export interface PlannedRun {
  readonly indices: readonly number[];
  readonly cost: number;
}

/** Shorter runs while urgent work is about (run-scheduler.ts interactive()). */
export interface InteractiveRuns {
  readonly runSeconds: number;
  readonly active: () => boolean;
}

/** Fewest padded tokens of a short run: below this a run's fixed price dominates. */
const MIN_SHORT_RUN_TOKENS = 64;

export class RunSizer {
  #tokensPerSecond: number;
  /** Tokens per UTF-8 byte of text (see estimate()). */
  #tokensPerByte = 0.25;
  #samples = 0;

  constructor(
    readonly runSeconds: number,
    /** Memory bound of one model call, whatever the speed. */
    readonly maxBatchTokens: number,
    readonly maxTokens: number,
    readonly parallelRuns: number,
    initialTokensPerSecond = 1000,
    private readonly interactiveRuns?: InteractiveRuns,
  ) {
    this.#tokensPerSecond = initialTokensPerSecond;
  }

  /**
   * Sync claims are sized from this, at the full run length even while runs are short: a claim's database round
   * trips are paid once for all its runs, and urgent runs pass the waiting ones anyway.
   */
  get pace(): Pace {
    return { tokensPerSecond: this.#tokensPerSecond, runSeconds: this.runSeconds, parallelRuns: this.parallelRuns };
  }

  /** Learns from a finished run; the first few count more, so a guess is replaced quickly. */
  observe(s: RunSample): void {
    if (!(s.seconds > 0) || s.paddedTokens <= 0) return;
    const w = Math.max(SMOOTHING, 1 / (this.#samples + 1));
    this.#samples += 1;
    this.#tokensPerSecond += w * (s.paddedTokens / s.seconds - this.#tokensPerSecond);
    if (s.bytes > 0) this.#tokensPerByte += w * (s.tokens / s.bytes - this.#tokensPerByte);
  }

  /**
   * Padded tokens one run may take: the target duration's worth, at least one full-length text. `short`: the
   * short runs' duration, at least MIN_SHORT_RUN_TOKENS (a longer text still gets a run of its own).
   */
  budget(short = false): number {
    if (short && this.interactiveRuns) {
      const seconds = Math.min(this.runSeconds, this.interactiveRuns.runSeconds);
      return Math.max(MIN_SHORT_RUN_TOKENS, Math.min(this.maxBatchTokens, Math.round(this.#tokensPerSecond * seconds)));
    }
    return Math.max(this.maxTokens, Math.min(this.maxBatchTokens, Math.round(this.#tokensPerSecond * this.runSeconds)));
  }

  /**
   * Estimated tokens of `text` after its prompt, with special tokens, capped at the model's max length. Counted
   * per UTF-8 byte rather than per character: byte-level tokenizers spend about as many tokens per byte on
   * Cyrillic as on Latin text, while per character Cyrillic costs about twice as much.
   */
  estimate(text: string, promptTokens: number): number {
    return Math.min(this.maxTokens, promptTokens + 2 + Math.ceil(Buffer.byteLength(text) * this.#tokensPerByte));
  }

  /** Groups input indices into runs of about the target duration each; `cost`: a run's estimated padded tokens. */
  plan(texts: readonly string[], promptTokens: number, short = false): PlannedRun[] {
    const estimates = texts.map((t) => this.estimate(t, promptTokens));
    return planBatches(estimates, this.budget(short))
      .map((indices) => ({ indices, cost: indices.length * Math.max(...indices.map((i) => estimates[i]!)) }));
  }
}
