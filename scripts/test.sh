#!/usr/bin/env bash
# The whole test suite against real components: installs PostgreSQL + pgvector + redis if missing,
# starts a throwaway cluster and a private redis, runs every test file with node's test runner.
#   usage: npm test [-- test/some.test.ts ...]
set -euo pipefail
cd "$(dirname "$0")/.."
# The deploy/ checks need promtool and docker-compose: installed when those tests are among the files run.
if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -q 'deploy-'; then bash scripts/setup.sh --deploy-tools; else bash scripts/setup.sh; fi
[ -d node_modules ] || ONNXRUNTIME_NODE_INSTALL=skip npm ci

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

if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
node --import tsx --test --test-reporter=spec "${files[@]}"
