// Rows that may end the process. A claim counts itself on the row (claims) and every outcome takes it off,
// so a row that comes back with claims left over was held by a process that ended while encoding it: a
// native crash in ONNX Runtime or the tokenizer, an out-of-memory kill. Retried whole, such a batch would end
// the process again after every restart and the rows around the bad one would never get vectors.
//
// So rows that were in hand at such an end (suspects) are encoded in batches that halve with every end they
// saw: rows with the most ends first, max(1, cap / 2^ends) of them, the rest given back. A row that ends the
// process is alone after floor(log2 cap) ends; alone it gets maxAttempts tries more, then it goes to the dead
// letters, saying so. An innocent row is alone after at most as many ends and never ends the process alone,
// so it is never dead-lettered this way: bad rows only ever take themselves out.
//
// That holds while nothing else is in hand when a suspect batch runs, so the loops of one daemon pass a gate
// (SuspectGate): one at a time after start-up and while suspects are about, side by side otherwise.
import type { ClaimedRow } from '../queue/queue.ts';

/** Ends of the process this row was in hand for (claims left over from before this claim). */
export function endsOf(row: ClaimedRow): number {
  return Math.max(0, row.claims - 1);
}

/** Ends after which a row has been alone for maxAttempts of them: it goes to the dead letters. */
export function endsLimit(cap: number, maxAttempts: number): number {
  return Math.floor(Math.log2(Math.max(1, cap))) + maxAttempts;
}

/** Rows encoded together when they saw `ends` ends of the process. */
export function suspectBatchSize(cap: number, ends: number): number {
  return Math.max(1, Math.floor(cap / 2 ** ends));
}

export interface SuspectSplit {
  /** What to encode now. */
  readonly keep: readonly ClaimedRow[];
  /** Claimed but not to be encoded now: released at once (the release settles their claim). */
  readonly giveBack: readonly ClaimedRow[];
  /** Rows that ended the process too often: dead-lettered with the reason. */
  readonly bury: readonly { readonly row: ClaimedRow; readonly error: string }[];
  /** The ends seen by the rows kept, 0 when none of them is a suspect. */
  readonly ends: number;
}

/** Splits a claim: all of it when no row is a suspect, else the batch of the most suspect rows. */
export function splitSuspects(claimed: readonly ClaimedRow[], cap: number, maxAttempts: number): SuspectSplit {
  const limit = endsLimit(cap, maxAttempts);
  const bury = claimed.filter((r) => endsOf(r) >= limit)
    .map((row) => ({ row, error: `the process ended while encoding this row ${endsOf(row)} times` }));
  const rest = claimed.filter((r) => endsOf(r) < limit);
  const ends = Math.max(0, ...rest.map(endsOf));
  if (ends === 0) return { keep: rest, giveBack: [], bury, ends };
  const same = rest.filter((r) => endsOf(r) === ends);
  const keep = same.slice(0, suspectBatchSize(cap, ends));
  const kept = new Set(keep);
  return { keep, giveBack: rest.filter((r) => !kept.has(r)), bury, ends };
}

export interface GatePass {
  /** No other loop of this daemon holds rows while this pass is held. */
  readonly exclusive: boolean;
  /** Gives the pass back; idempotent. */
  leave(): void;
}

/**
 * The loops of one daemon claim through this gate. Careful (after start-up, and from the moment a claim
 * finds suspects until a claim finds none) a loop claims and encodes alone; otherwise they go side by side.
 */
export class SuspectGate {
  #careful = true;
  #shared = 0;
  #exclusive = false;
  #waiting: (() => void)[] = [];

  get careful(): boolean { return this.#careful; }

  /** Waits for a pass: exclusive while careful, shared otherwise. */
  async enter(): Promise<GatePass> {
    for (;;) {
      if (this.#careful ? !this.#exclusive && this.#shared === 0 : !this.#exclusive) {
        const exclusive = this.#careful;
        if (exclusive) this.#exclusive = true;
        else this.#shared += 1;
        let left = false;
        return {
          exclusive,
          leave: () => {
            if (left) return;
            left = true;
            if (exclusive) this.#exclusive = false;
            else this.#shared -= 1;
            this.#wakeAll();
          },
        };
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
  }

  /** What a non-empty claim found: suspects make the gate careful, a claim without any lets it open up. */
  found(suspects: boolean): void {
    if (this.#careful === suspects) return;
    this.#careful = suspects;
    this.#wakeAll();
  }

  #wakeAll(): void {
    const w = this.#waiting;
    this.#waiting = [];
    for (const f of w) f();
  }
}
