// The fast tier (`npm run test:fast`, scripts/test.sh --fast) leaves out whole slow files and, with this option,
// the heaviest tests of files it runs: load beside a migration, a supervisor restarting processes, four daemons over
// one table, a remote backend stopped mid-backfill. `npm test` (what CI runs) runs every one of them.
export const FULL_SUITE_ONLY = {
  skip: process.env.EMBEDSYNC_TEST_TIER === 'fast' ? 'the full suite runs it (npm test)' : false,
} as const;
