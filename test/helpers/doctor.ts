// doctor's checks as a test reads them: one check by name, run as `embedsync doctor --no-model` would.
import { runChecks, type Check } from '../../src/cli/doctor.ts';
import type { Config } from '../../src/config/index.ts';

export async function doctorCheck(config: Config, name: string): Promise<Check | undefined> {
  const ctx = { env: {}, stderr: process.stderr, cwd: process.cwd(), signal: new AbortController().signal };
  return (await runChecks(ctx, config, false)).find((c) => c.name === name);
}
