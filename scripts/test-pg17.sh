#!/usr/bin/env bash
# Runs test files against PostgreSQL 17 (the compose stack's version) on this Debian 12 machine without installing
# it: Debian trixie's binary packages (server, pgvector, server headers, and the libraries the server links, its C
# library included) unpacked under a private directory; the server runs through that C library's loader, and the
# compiled UPDATE trigger function (extension/) is built against 17's headers. Needs deb.debian.org. Not part of
# npm test (CI runs on the machine's PostgreSQL 15).
#   usage: bash scripts/test-pg17.sh [test files...]    default: the triggers' and the compiled function's tests
set -euo pipefail
cd "$(dirname "$0")/.."
root="${PG17_ROOT:-/tmp/embedsync-pg17}"
R="$root/R"
B="$R/usr/lib/postgresql/17/bin"
L="$R/usr/lib/x86_64-linux-gnu"
MIRROR=http://deb.debian.org/debian
PKGS=(postgresql-17 postgresql-17-pgvector postgresql-server-dev-17 libpq5 libc6 libicu76 libssl3t64 libxml2 libxslt1.1
  libzstd1 liblz4-1 libldap2 libsasl2-2 libselinux1 libpcre2-8-0 libsystemd0 libgssapi-krb5-2 libkrb5-3 libk5crypto3
  libkrb5support0 libcom-err2 libkeyutils1 libcap2 libgcrypt20 libgpg-error0 liblzma5 libuuid1 libpam0g libaudit1
  libcap-ng0 zlib1g libstdc++6 libgcc-s1)
log() { echo "[pg17] $*" >&2; }

if [ ! -x "$B/postgres.real" ]; then
  mkdir -p "$root/debs" "$R"
  log "fetching trixie's package index"
  curl -fsS --max-time 120 "$MIRROR/dists/trixie/main/binary-amd64/Packages.xz" | xz -d > "$root/Packages"
  for p in "${PKGS[@]}"; do
    f="$(awk -v p="$p" '$0 == "Package: " p { found = 1 } found && /^Filename:/ { print $2; exit }' "$root/Packages")"
    [ -n "$f" ] || { log "no package $p in trixie"; exit 1; }
    [ -f "$root/debs/${f##*/}" ] || curl -fsS --max-time 300 -o "$root/debs/${f##*/}" "$MIRROR/$f"
    dpkg -x "$root/debs/${f##*/}" "$R"
  done
  # The server's programs go through trixie's loader and libraries; initdb and pg_ctl find `postgres` beside them.
  for x in postgres initdb pg_ctl; do
    mv "$B/$x" "$B/$x.real"
    printf '#!/bin/sh\nexec %s/ld-linux-x86-64.so.2 --library-path %s --argv0 "$0" %s/%s.real "$@"\n' "$L" "$L" "$B" "$x" > "$B/$x"
    chmod +x "$B/$x"
  done
fi
log "building embedsync_capture against PostgreSQL 17's headers"
gcc -O2 -fPIC -shared -Wall -Werror -Wmissing-prototypes -Wdeclaration-after-statement \
  -I "$R/usr/include/postgresql/17/server" extension/embedsync_capture.c -o "$R/usr/lib/postgresql/17/lib/embedsync_capture.so"
cp extension/embedsync_capture.control extension/embedsync_capture--*.sql "$R/usr/share/postgresql/17/extension/"
chmod -R a+rX "$root"

[ -d node_modules ] || ONNXRUNTIME_NODE_INSTALL=skip npm ci
npm run --silent build
pgdir="$(mktemp -d /tmp/embedsync-pg17-cluster.XXXXXX)"
trap 'PG_BIN="$B" bash scripts/pg-stop.sh "$pgdir" || true' EXIT
url="$(PG_BIN="$B" bash scripts/pg-start.sh "$pgdir")"
# No JIT: trixie's llvmjit needs an LLVM this machine does not have (the 15 cluster has no JIT either).
psql -qX "$url" -c 'ALTER SYSTEM SET jit = off' -c 'SELECT pg_reload_conf()' >/dev/null
log "$(psql -qXAt "$url" -c 'SELECT version()')"
if [ $# -eq 0 ]; then set -- test/compiled-capture.test.ts test/lanes.test.ts test/change-log.test.ts test/partitioned.test.ts; fi
EMBEDSYNC_TEST_DATABASE_URL="$url" EMBEDSYNC_TEST_PG_DIR="$pgdir" node --import tsx --test --test-concurrency=1 "$@"
