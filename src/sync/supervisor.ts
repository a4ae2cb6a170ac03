// Serves several tables from one process: one sync daemon (daemon.ts, unchanged) per table, each built from
// the settings migrate recorded for it (embedsync.sources), with encoders shared by model (encoder-shelf.ts).
// The set of tables is reconciled against the record: on NOTIFY "source:<table>" (migrate recorded or
// re-set a table, remove took it off) and "model:<table>", and on a poll as the backstop. A table that was
// migrated starts being served within moments, a removed one stops; a table whose recorded model changed is
// restarted on the new model while the others carry on.
import type pg from 'pg';
import type { QualifiedName, SyncConfig } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { readRecordedSources, type RecordedSource } from '../db/source-settings.ts';
import { sourceKeyOf } from '../db/source-sql.ts';
import { startListener, type Listener } from '../queue/listener.ts';
import { LANES } from '../queue/queue.ts';
import type { EncoderShelf } from './encoder-shelf.ts';
import { startSyncDaemon, type SyncDaemon } from './daemon.ts';
import { SuspectGate } from './suspects.ts';

export interface SupervisorOptions {
  readonly pool: pg.Pool;
  readonly connectListener: () => pg.Client;
  readonly sync: SyncConfig;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Which tables: these (each once migrated), or every recorded one. */
  readonly tables: readonly QualifiedName[] | 'all';
  readonly encoders: EncoderShelf;
  /** How often the record is read when no notification came (the backstop). */
  readonly pollMs?: number;
  readonly listenerHeartbeatMs?: number;
}

/** One table's sync daemon and what it was started with. */
export interface SyncUnit {
  readonly source: string;
  readonly model: string;
  readonly daemon: SyncDaemon;
  readonly recorded: RecordedSource;
}

export interface Supervisor {
  /** The tables served now, by source key. */
  readonly units: ReadonlyMap<string, SyncUnit>;
  /** Reads the record and starts, stops or restarts units to match; resolves once done. */
  reconcile(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSupervisor(o: SupervisorOptions): Promise<Supervisor> {
  const { pool, logger } = o;
  const units = new Map<string, SyncUnit>();
  // One suspect-row gate for every table of this process (suspects.ts): a process that ends ends them all.
  const gate = new SuspectGate();
  const wanted = o.tables === 'all' ? undefined : new Set(o.tables.map((t) => sourceKeyOf({ table: t })));
  const unmigratedSaid = new Set<string>();
  // A table that cannot start is retried on every pass; its reason is logged when it changes, not every pass.
  const failureSaid = new Map<string, string>();
  let stopped = false;

  const startUnit = async (r: RecordedSource): Promise<void> => {
    const key = sourceKeyOf(r.source);
    const encoder = await o.encoders.acquire(r.model);
    try {
      if (encoder.info.checksum !== r.checksum) {
        logger.warn({ event: 'model_differs', table: key, model: r.model, recorded: r.checksum, loaded: encoder.info.checksum },
          `${r.model} loads as ${encoder.info.checksum} but migrate recorded ${r.checksum} for ${key}: ` +
          'its rows are not written until they agree');
      }
      const daemon = await startSyncDaemon({
        pool, encoder, source: r.source, sync: o.sync, logger, connectListener: o.connectListener, gate,
        ...(o.metrics ? { metrics: o.metrics } : {}), ...(o.listenerHeartbeatMs ? { listenerHeartbeatMs: o.listenerHeartbeatMs } : {}),
        // The table now takes another model: reconcile, which restarts it once migrate has recorded the model.
        onModelMismatch: () => schedule(),
      });
      units.set(key, { source: key, model: r.model, daemon, recorded: r });
      logger.info({ event: 'table_served', table: key, model: r.model }, `serving ${key}`);
    } catch (err) {
      o.encoders.release(r.model);
      throw err;
    }
  };
  const stopUnit = async (u: SyncUnit, why: string): Promise<void> => {
    units.delete(u.source);
    await u.daemon.stop();
    o.encoders.release(u.model);
    // A table no longer served (removed, or stopped for new settings) reports nothing rather than its last
    // figures; a restarted unit sets them again.
    if (o.metrics) {
      const gauges = [o.metrics.queueDepth, o.metrics.oldestQueuedSeconds, o.metrics.deadletterRows, o.metrics.changeLogEntries,
        o.metrics.modelMismatch];
      for (const g of gauges) {
        g.remove({ source: u.source });
      }
      for (const lane of LANES) for (const g of [o.metrics.laneDepth, o.metrics.laneOldestSeconds]) g.remove({ source: u.source, lane });
    }
    logger.info({ event: 'table_dropped', table: u.source, reason: why }, `no longer serving ${u.source}: ${why}`);
  };

  const reconcileOnce = async (): Promise<void> => {
    const recorded = (await readRecordedSources(pool)).filter((r) => !wanted || wanted.has(sourceKeyOf(r.source)));
    const byKey = new Map(recorded.map((r) => [sourceKeyOf(r.source), r]));
    for (const key of wanted ?? []) {
      if (!byKey.has(key) && !unmigratedSaid.has(key)) {
        unmigratedSaid.add(key);
        logger.warn({ event: 'table_not_migrated', table: key },
          `${key} has no settings recorded by migrate; it is served once \`embedsync migrate\` has set it up`);
      }
    }
    for (const u of [...units.values()]) {
      const r = byKey.get(u.source);
      if (!r) await stopUnit(u, 'removed');
      else if (!sameSetup(u.recorded, r)) await stopUnit(u, 'migrate recorded other settings or another model');
    }
    for (const r of recorded) {
      const key = sourceKeyOf(r.source);
      if (stopped || units.has(key)) continue;
      unmigratedSaid.delete(key);
      // One table that cannot start (not set up completely, model not loadable) does not hold the others back.
      await startUnit(r).then(() => failureSaid.delete(key), (err: unknown) => {
        const message = (err as Error).message;
        if (failureSaid.get(key) === message) return;
        failureSaid.set(key, message);
        logger.warn({ event: 'table_start_failed', table: key, error: message }, `cannot serve ${key} yet; retrying`);
      });
    }
  };

  // One reconcile at a time; requests meanwhile fold into one more pass after it.
  let running: Promise<void> | undefined;
  let again = false;
  const reconcile = (): Promise<void> => {
    if (running) { again = true; return running; }
    running = (async () => {
      try {
        do {
          again = false;
          if (!stopped) {
            await reconcileOnce().catch((err: unknown) =>
              logger.warn({ event: 'reconcile_failed', error: (err as Error).message }, 'reading the table record failed; retrying'));
          }
        } while (again && !stopped);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const schedule = () => { void reconcile(); };

  await reconcile();
  const listener: Listener = startListener({
    connect: o.connectListener,
    onNotify: (payload) => { if (payload.startsWith('source:') || payload.startsWith('model:')) schedule(); },
    onConnected: schedule,
    onError: (err, attempt) =>
      logger.warn({ event: 'listener_reconnect', attempt, error: err.message }, 'listener connection lost; reconnecting'),
    heartbeatMs: o.listenerHeartbeatMs ?? 10_000,
  });
  const poll = setInterval(schedule, o.pollMs ?? Math.max(1000, o.sync.pollIntervalMs * 2));
  let done: Promise<void> | undefined;
  return {
    units,
    reconcile,
    stop() {
      done ??= (async () => {
        stopped = true;
        clearInterval(poll);
        await running;
        await Promise.all([listener.stop(), ...[...units.values()].map((u) => stopUnit(u, 'shutting down'))]);
      })();
      return done;
    },
  };
}

/** A unit keeps running while the record says what it was started with. */
function sameSetup(a: RecordedSource, b: RecordedSource): boolean {
  return a.model === b.model && a.checksum === b.checksum && JSON.stringify(a.source) === JSON.stringify(b.source);
}
