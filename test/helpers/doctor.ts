// doctor's checks as a test reads them: one check by name, run as `embedsync doctor --no-model` would.
import { runChecks, type Check } from '../../src/cli/doctor.ts';
import type { Config } from '../../src/config/index.ts';

export async function doctorCheck(config: Config, name: string): Promise<Check | undefined> {
  const ctx = { env: {}, stderr: process.stderr, cwd: process.cwd(), signal: new AbortController().signal };
  return (await runChecks(ctx, config, false)).find((c) => c.name === name);
}

/**
 * The end of the triggers check where the UPDATE trigger calls the PL/pgSQL function on the test server, which has
 * embedsync_capture's files (scripts/setup.sh installs them) and creates the extension only where a test does.
 */
export const PLPGSQL_UPDATES_AVAILABLE =
  ', updates: the PL/pgSQL function (embedsync_capture is available on this server: docs/sync.md#the-compiled-update-function)';
