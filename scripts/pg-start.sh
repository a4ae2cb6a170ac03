#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster (with pgvector available) under a private directory on a
# private port, and prints its URL. The cluster runs as the postgres user because initdb refuses root.
#   usage: scripts/pg-start.sh [DIR]      (DIR defaults to a new temp dir; DIR/url holds the URL)
#   stop:  scripts/pg-stop.sh DIR
set -euo pipefail
PG_BIN="${PG_BIN:-/usr/lib/postgresql/${PG_MAJOR:-15}/bin}"
dir="${1:-$(mktemp -d /tmp/embedsync-pg.XXXXXX)}"
mkdir -p "$dir"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"

if [ ! -f "$dir/data/PG_VERSION" ]; then
  as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
fi
port="${PGPORT_OVERRIDE:-}"
if [ -z "$port" ]; then
  # A free port from the kernel: bind 0, read it back.
  port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
fi
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB -c wal_level=logical -c max_replication_slots=64 -c max_wal_senders=16" \
  start >/dev/null || { tail -20 "$dir/server.log" >&2; exit 1; }
url="postgresql://postgres@127.0.0.1:${port}/postgres"
echo "$url" > "$dir/url"
echo "$dir" > "$dir/dir"
echo "$url"
