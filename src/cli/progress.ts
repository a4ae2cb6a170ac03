// A one-line progress bar for long CLI steps, drawn only on a terminal (logs and pipes get the summary).
import type { Output } from './context.ts';

export interface ProgressBar {
  update(done: number, total: number): void;
  finish(): void;
}

export function progressBar(out: Output, label: string): ProgressBar {
  if (!out.isTTY) return { update() {}, finish() {} };
  const started = Date.now();
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const width = 30;
      const filled = Math.round(frac * width);
      const rate = done / Math.max(0.001, (now - started) / 1000);
      const eta = rate > 0 && total > done ? ` eta ${Math.ceil((total - done) / rate)}s` : '';
      out.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}${eta}   `);
      drawn = true;
    },
    finish() {
      if (drawn) out.write('\n');
    },
  };
}
