// A one-line progress bar for long steps (a backfill, a download), drawn only on a terminal: logs and pipes
// get the summary instead. Redrawn at most every 100 ms, and always when the work is done.

export interface ProgressOutput {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

export interface ProgressBar {
  /** `total` undefined: unknown (no bar, just the count). */
  update(done: number, total?: number): void;
  /** Draws the last update if it was held back and ends the line. */
  finish(): void;
}

export interface ProgressBarOptions {
  /** Counts are bytes, shown in MB. */
  readonly bytes?: boolean;
}

const WIDTH = 30;
const REDRAW_MS = 100;

export function progressBar(out: ProgressOutput | undefined, label: string, o: ProgressBarOptions = {}): ProgressBar {
  if (!out?.isTTY) return { update() {}, finish() {} };
  const count = o.bytes ? (n: number) => (n / 1e6).toFixed(1) : String;
  const unit = o.bytes ? ' MB' : '';
  const started = Date.now();
  let last = 0;
  let drawn = false;
  let held: (() => void) | undefined;
  const draw = (done: number, total: number | undefined, now: number): void => {
    let text = `${count(done)}${unit}`;
    if (total !== undefined) {
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const filled = Math.round(frac * WIDTH);
      const rate = done / Math.max(0.001, (now - started) / 1000);
      const eta = rate > 0 && total > done ? ` eta ${Math.ceil((total - done) / rate)}s` : '';
      text = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ` +
        `${count(done)}/${count(total)}${unit}${eta}`;
    }
    out.write(`\r${label} ${text}   `);
    last = now;
    drawn = true;
    held = undefined;
  };
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < REDRAW_MS && (total === undefined || done < total)) {
        held = () => draw(done, total, now);
        return;
      }
      draw(done, total, now);
    },
    finish() {
      held?.();
      if (drawn) out.write('\n');
      drawn = false;
    },
  };
}
