#!/usr/bin/env bash
# The whole test suite against real components: installs PostgreSQL + pgvector + redis if missing,
# starts a throwaway cluster and a private redis, runs every test file with node's test runner.
#   usage: npm test [-- test/some.test.ts ...]     the full suite (what CI runs), or the files named
#          npm run test:fast                       without the slow files below (soak, chaos, demo, newcomer runs)
set -euo pipefail
cd "$(dirname "$0")/.."
# The slow tier: a memory soak, the chaos run, npm start's demo and signals, the newcomer and first-hour walks
# from a fresh checkout, the real-sized model, the deploy checks (promtool, docker-compose), the setup script,
# processes killed mid-batch (sync-crash) and abused at length (security), index recall on 20,000 rows, idle costs,
# and the encoder-share measurements (sync-share: timing that wants the machine to itself). Heavy tests inside the
# files it runs are marked FULL_SUITE_ONLY (test/helpers/tier.ts) and skipped under EMBEDSYNC_TEST_TIER=fast.
SLOW=(bad-input-memory chaos stop-signals newcomer first-hour realmodel setup-script deploy-monitoring deploy-image
  security sync-crash index-recall idle-cost sync-share)
# The fast tier runs three files at a time: they share the machine's cores but not their waits (a test file
# spends much of its time waiting on a daemon, a timer or PostgreSQL). The full suite runs them one by one.
concurrency=1
if [ "${1:-}" = "--fast" ]; then
  shift
  concurrency=3
  export EMBEDSYNC_TEST_TIER=fast
  mapfile -t files < <(find test -name '*.test.ts' | sort | grep -v -E "/($(IFS='|'; echo "${SLOW[*]}"))\.test\.ts$")
elif [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
# The deploy/ checks need promtool and docker-compose: installed when those tests are among the files run.
if printf '%s\n' "${files[@]}" | grep -q 'deploy-'; then bash scripts/setup.sh --deploy-tools; else bash scripts/setup.sh; fi
[ -d node_modules ] || ONNXRUNTIME_NODE_INSTALL=skip npm ci
# Tests that start the CLI (bin/embedsync.js) run the compiled dist/: build it from the current sources first.
npm run --silent build

pgdir="$(mktemp -d /tmp/embedsync-test-pg.XXXXXX)"
redis_pid=""
cleanup() {
  bash scripts/pg-stop.sh "$pgdir" || true
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
}
trap cleanup EXIT
export EMBEDSYNC_TEST_DATABASE_URL="$(bash scripts/pg-start.sh "$pgdir")"
export EMBEDSYNC_TEST_PG_DIR="$pgdir"

redis_port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null 2>&1 &
redis_pid=$!
export EMBEDSYNC_TEST_REDIS_URL="redis://127.0.0.1:${redis_port}"

node --import tsx --test --test-concurrency="$concurrency" --test-reporter=spec "${files[@]}"
