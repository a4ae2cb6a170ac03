// A daemon in a child process that claims a batch and then hangs inside the encoder, so a test can kill -9
// it mid-batch. Prints "encoding <n>" when it is there.
//   usage: node --import tsx test/helpers/sync-child.ts DATABASE_URL
import { loadConfig } from '../../src/config/index.ts';
import { createClient, createPool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/log/index.ts';
import { TINY_MODEL_DIR } from '../support/tiny-model-dir.ts';
import { startSyncDaemon } from '../../src/sync/daemon.ts';
import { createTestEncoder, instrument, TEST_ENV } from './sync.ts';

const url = process.argv[2]!;
const config = loadConfig({ ...TEST_ENV, DATABASE_URL: url, EMBEDDING_MODEL: TINY_MODEL_DIR });
const pool = createPool({ databaseUrl: url });
const encoder = instrument(await createTestEncoder(), async (texts) => {
  process.stdout.write(`encoding ${texts.length}\n`);
  await new Promise(() => { /* never returns: killed here */ });
});
await startSyncDaemon({
  pool, encoder, source: config.source, sync: config.sync, logger: createLogger('silent'), owner: 'doomed',
  connectListener: () => createClient({ databaseUrl: url }),
});
