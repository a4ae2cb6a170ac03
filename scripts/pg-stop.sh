#!/usr/bin/env bash
# Stops a cluster started by pg-start.sh and removes its directory.
set -euo pipefail
dir="$1"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/${PG_MAJOR:-15}/bin}"
if [ -f "$dir/data/postmaster.pid" ]; then
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
  else "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true; fi
fi
[ "${KEEP_PG_DIR:-}" = 1 ] || rm -rf "$dir"
