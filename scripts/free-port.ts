// A TCP port to listen on: the preferred one when it is free, else one the system picks. For the demo (a busy
// 8000 never stops it), the tests and the benchmarks that start servers of their own.
import { createServer } from 'node:net';

export async function freePort(preferred = 0, host = '127.0.0.1'): Promise<number> {
  const tryListen = (p: number) => new Promise<number | undefined>((done) => {
    const srv = createServer();
    srv.once('error', () => done(undefined));
    srv.listen(p, host, () => {
      const got = (srv.address() as { port: number }).port;
      srv.close(() => done(got));
    });
  });
  return (await tryListen(preferred)) ?? (await tryListen(0))!;
}
