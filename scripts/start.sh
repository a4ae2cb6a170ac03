#!/usr/bin/env bash
# `npm start`: the whole product on a fresh machine. Installs what is missing, starts a throwaway PostgreSQL
# when DATABASE_URL is not set (removed on exit), seeds demo leads into an empty leads table, migrates,
# runs the daemon, prints a similarity query and its answer, and keeps running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -d node_modules ] || ONNXRUNTIME_NODE_INSTALL=skip npm ci

pgdir=""
cleanup() {
  if [ -n "$pgdir" ]; then bash scripts/pg-stop.sh "$pgdir" || true; fi
}
trap cleanup EXIT
if [ -z "${DATABASE_URL:-}" ]; then
  pgdir="$(mktemp -d /tmp/embedsync-demo-pg.XXXXXX)"
  DATABASE_URL="$(bash scripts/pg-start.sh "$pgdir")"
  export DATABASE_URL
  echo "started a throwaway PostgreSQL at $DATABASE_URL (removed on exit)"
fi
node --import tsx scripts/demo.ts
