// The encoders of a process serving several tables: one per distinct model, shared by every table (and the
// HTTP API) that uses it, loaded on first use and closed when the last table using it lets go. A model is
// known by the EMBEDDING_MODEL spelling migrate recorded; two spellings that load the same model (same
// checksum) share the first one loaded.
import type { Encoder } from '../encoder/types.ts';

export interface EncoderShelf {
  /** The encoder for `model`, loaded once; every acquire is paired with a release. */
  acquire(model: string): Promise<Encoder>;
  release(model: string): void;
  /** Adds an encoder loaded elsewhere (the process's configured model): shared, never closed here. */
  adopt(model: string, encoder: Promise<Encoder>): void;
  /** The encoders loaded now, by model, each once. */
  loaded(): Promise<ReadonlyMap<string, Encoder>>;
  /** The encoders that have finished loading, by model name (ModelInfo.name), without waiting for any. */
  byName(): ReadonlyMap<string, Encoder>;
  closeAll(): Promise<void>;
}

interface Slot {
  readonly encoder: Promise<Encoder>;
  refs: number;
  /** Adopted encoders belong to the caller's lifetime: never closed on release. */
  readonly pinned: boolean;
}

export function createEncoderShelf(load: (model: string) => Promise<Encoder>): EncoderShelf {
  const slots = new Map<string, Slot>();
  // Encoders that finished loading, by model: what a new load is compared with (never awaiting another load,
  // so two loads at once cannot wait for each other).
  const ready = new Map<string, Encoder>();
  const settled = async (): Promise<Map<string, Encoder>> => {
    for (const s of slots.values()) await s.encoder.catch(() => undefined);
    return new Map(ready);
  };
  const closeSlot = (model: string, slot: Slot) => {
    slots.delete(model);
    void slot.encoder.then(async (e) => {
      ready.delete(model);
      // Another spelling may share this encoder (same checksum): close it only when no model holds it.
      if ([...ready.values()].includes(e)) return;
      await e.close();
    }, () => undefined);
  };
  return {
    async acquire(model) {
      let slot = slots.get(model);
      if (!slot) {
        const encoder = (async () => {
          const e = await load(model);
          // The same model under another spelling: keep one copy in memory.
          const same = [...ready.values()].find((other) => other.info.checksum === e.info.checksum);
          if (same) await e.close();
          ready.set(model, same ?? e);
          return same ?? e;
        })();
        slot = { encoder, refs: 0, pinned: false };
        slots.set(model, slot);
        // A model that failed to load is tried again by the next acquire.
        encoder.catch(() => { if (slots.get(model) === slot) slots.delete(model); });
      }
      slot.refs += 1;
      return slot.encoder;
    },
    release(model) {
      const slot = slots.get(model);
      if (!slot) return;
      slot.refs -= 1;
      if (slot.refs <= 0 && !slot.pinned) closeSlot(model, slot);
    },
    adopt(model, encoder) {
      if (slots.has(model)) return;
      slots.set(model, { encoder, refs: 0, pinned: true });
      encoder.then((e) => { if (slots.has(model)) ready.set(model, e); }, () => undefined);
    },
    loaded: () => settled(),
    byName: () => new Map([...ready.values()].map((e) => [e.info.name, e])),
    async closeAll() {
      // Adopted encoders are their owner's to close.
      const pinned = new Set<Encoder>();
      for (const [m, s] of slots) if (s.pinned && ready.has(m)) pinned.add(ready.get(m)!);
      const encoders = new Set([...(await settled()).values()].filter((e) => !pinned.has(e)));
      slots.clear();
      ready.clear();
      await Promise.all([...encoders].map((e) => e.close().catch(() => undefined)));
    },
  };
}
