#!/usr/bin/env bash
# `npm start`: the whole product on a fresh machine. Installs what is missing, starts a throwaway PostgreSQL
# when DATABASE_URL is not set (removed on exit), seeds demo leads into an empty leads table, migrates,
# runs the daemon, prints a similarity query and its answer, and keeps running until Ctrl-C, SIGINT or SIGTERM.
# A signal sent to npm reaches this script alone (not the whole process group, as Ctrl-C in a terminal does): it is
# passed on to the demo, and the throwaway PostgreSQL is removed once the demo has stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

pgdir=""
demo=""
cleanup() {
  if [ -n "$pgdir" ]; then bash scripts/pg-stop.sh "$pgdir" || true; fi
}
trap cleanup EXIT
# Before the demo runs, a signal ends the script (and the EXIT trap removes the cluster); after, it goes to the demo.
on_signal() {
  if [ -n "$demo" ]; then kill "-$1" "$demo" 2>/dev/null || true; else exit $((128 + $2)); fi
}
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM

bash scripts/setup.sh
[ -d node_modules ] || ONNXRUNTIME_NODE_INSTALL=skip npm ci
# The CLI runs dist/ (install scripts are off, so npm ci does not build it): compile the current sources.
npm run --silent build
if [ -z "${DATABASE_URL:-}" ]; then
  pgdir="$(mktemp -d /tmp/embedsync-demo-pg.XXXXXX)"
  DATABASE_URL="$(bash scripts/pg-start.sh "$pgdir")"
  export DATABASE_URL
  echo "started a throwaway PostgreSQL at $DATABASE_URL (removed on exit)"
fi
node --import tsx scripts/demo.ts &
demo=$!
# `wait` returns early when a trapped signal arrives; wait again until the demo itself has exited.
while kill -0 "$demo" 2>/dev/null; do wait "$demo" || true; done
status=0
wait "$demo" || status=$?
exit "$status"
