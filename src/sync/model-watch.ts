// What a daemon does when migrate records another model for its table: it stops writing (its write target
// turns idle, and the write statement would refuse it anyway), says so once in a warning naming both
// checksums, sets embedsync_model_mismatch{source} to 1, and reports the mismatch to its owner, which turns
// /ready to 503 and, with EMBEDSYNC_EXIT_ON_MODEL_CHANGE, stops the process so an orchestrator restarts it
// with the new configuration. It learns of the change from every read of the state: the worker loop's
// (every poll interval at the latest) and the one a "model:<source>" notification from migrate triggers.
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ModelState, WriteTarget } from '../db/model-state.ts';

export interface ModelMismatch {
  readonly source: string;
  /** The model migrate recorded for the table (what writes must come from). */
  readonly recorded: { readonly model: string; readonly checksum: string };
  /** This daemon's model checksum. */
  readonly running: string;
  /** One line for /ready, the log and the exit message. */
  readonly reason: string;
}

/** The daemon was told to exit when its model is replaced (EMBEDSYNC_EXIT_ON_MODEL_CHANGE). */
export class ModelChangedError extends Error {
  override name = 'ModelChangedError';
  constructor(readonly mismatch: ModelMismatch) {
    super(`${mismatch.reason}; exiting (EMBEDSYNC_EXIT_ON_MODEL_CHANGE) so the daemon restarts with the new configuration`);
  }
}

export interface ModelWatchOptions {
  readonly source: string;
  /** This daemon's model checksum. */
  readonly checksum: string;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly onMismatch?: (m: ModelMismatch) => void;
}

export interface ModelWatch {
  /** Every state read of the write target goes through here. */
  observe(state: ModelState | undefined, target: WriteTarget): void;
  readonly mismatch: ModelMismatch | undefined;
}

export function watchModel(o: ModelWatchOptions): ModelWatch {
  let mismatch: ModelMismatch | undefined;
  let announcedMigration: string | undefined;
  o.metrics?.modelMismatch.set({ source: o.source }, 0);
  return {
    get mismatch() { return mismatch; },
    observe(state, target) {
      const m = state?.migration;
      // Idle because another model is recorded, and no migration to this daemon's model is on its way.
      const replaced = state !== undefined && target.kind === 'idle' && state.checksum !== o.checksum && m?.checksum !== o.checksum;
      if (replaced && mismatch?.recorded.checksum !== state.checksum) {
        mismatch = {
          source: o.source,
          recorded: { model: state.model, checksum: state.checksum },
          running: o.checksum,
          reason: `model changed: ${o.source} is embedded by ${state.model} (${state.checksum}) but this daemon runs ${o.checksum}; ` +
            `it writes nothing until restarted with EMBEDDING_MODEL=${state.model}`,
        };
        o.metrics?.modelMismatch.set({ source: o.source }, 1);
        o.logger.warn({
          event: 'model_mismatch', source: o.source, recorded: state.checksum, running: o.checksum, recorded_model: state.model,
        }, mismatch.reason);
        o.onMismatch?.(mismatch);
      } else if (!replaced && mismatch) {
        // migrate went back to this daemon's model: it writes again.
        o.logger.info({ event: 'model_match', source: o.source, checksum: o.checksum },
          `model ${o.checksum} is recorded for ${o.source} again; writing`);
        mismatch = undefined;
        o.metrics?.modelMismatch.set({ source: o.source }, 0);
      }
      if (m && m.checksum !== o.checksum && state?.checksum === o.checksum && announcedMigration !== m.checksum) {
        announcedMigration = m.checksum;
        o.logger.warn({ event: 'model_migration', source: o.source, running: o.checksum, target: m.checksum, target_model: m.model },
          `migrate is moving ${o.source} to ${m.model} (${m.checksum}); this daemon keeps the current vectors up to date ` +
          `until the swap, then writes nothing: restart it with EMBEDDING_MODEL=${m.model} after migrate has finished`);
      }
    },
  };
}
