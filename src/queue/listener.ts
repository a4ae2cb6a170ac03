// A dedicated LISTEN connection. NOTIFY is only a hint to look at the queue (the queue table is the truth),
// so all this has to do is stay connected: a heartbeat catches half-dead sockets that never report an error,
// and on any failure it reconnects with exponential backoff and re-subscribes. onConnected fires after every
// (re)subscribe, because notifications sent while disconnected are gone and the caller should look now.
import type pg from 'pg';
import { backoff } from '../lib/backoff.ts';

export const NOTIFY_CHANNEL = 'embedsync';

export interface ListenerOptions {
  readonly connect: () => pg.Client;
  readonly onNotify: (payload: string) => void;
  readonly onConnected?: () => void;
  readonly onError?: (err: Error, attempt: number) => void;
  readonly heartbeatMs?: number;
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
}

export interface Listener {
  readonly connected: boolean;
  /** Drops the current connection (as a network failure would); the listener reconnects. For tests and ops. */
  reconnect(): void;
  stop(): Promise<void>;
}

export function startListener(o: ListenerOptions): Listener {
  const heartbeatMs = o.heartbeatMs ?? 10_000;
  const retry = backoff({ baseMs: o.backoffMinMs ?? 100, maxMs: o.backoffMaxMs ?? 10_000, jitter: 'half' });
  let stopped = false;
  let client: pg.Client | undefined;
  let connected = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const drop = (c: pg.Client, err?: Error): void => {
    if (client !== c) return; // already handled
    client = undefined;
    connected = false;
    clearInterval(heartbeat);
    c.removeAllListeners('notification');
    c.on('error', () => undefined); // a late socket error on a dropped client must not crash the process
    void c.end().catch(() => undefined);
    if (stopped) return;
    failures += 1;
    if (err) o.onError?.(err, failures);
    timer = setTimeout(() => { running = connectOnce(); }, retry.delayMs(failures - 1));
  };

  const connectOnce = async (): Promise<void> => {
    if (stopped) return;
    const c = o.connect();
    client = c;
    c.on('error', (err) => drop(c, err));
    c.on('end', () => drop(c, new Error('listener connection ended')));
    c.on('notification', (msg) => { if (msg.channel === NOTIFY_CHANNEL) o.onNotify(msg.payload ?? ''); });
    try {
      await c.connect();
      await c.query(`LISTEN ${NOTIFY_CHANNEL}`);
    } catch (err) {
      drop(c, err as Error);
      return;
    }
    if (client !== c || stopped) return;
    connected = true;
    failures = 0;
    heartbeat = setInterval(() => {
      // A query that does not answer within one interval means the socket is dead even if no error came.
      const deadline = setTimeout(() => drop(c, new Error('listener heartbeat timed out')), heartbeatMs);
      c.query('SELECT 1').then(() => clearTimeout(deadline), (err: Error) => { clearTimeout(deadline); drop(c, err); });
    }, heartbeatMs);
    heartbeat.unref?.();
    o.onConnected?.();
  };

  running = connectOnce();
  return {
    get connected() { return connected; },
    reconnect() { if (client) drop(client, new Error('reconnect requested')); },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      clearInterval(heartbeat);
      await running.catch(() => undefined);
      const c = client;
      client = undefined;
      connected = false;
      if (c) {
        c.removeAllListeners('end');
        c.on('error', () => undefined);
        await c.end().catch(() => undefined);
      }
    },
  };
}
