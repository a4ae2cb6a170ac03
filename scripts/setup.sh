#!/usr/bin/env bash
# Installs what embedsync's tests and demo need on a Debian bookworm machine:
# PostgreSQL 15 server, pgvector (built from Debian's own source package, since
# bookworm does not package it) and redis-server. Idempotent: each step checks first.
#   usage: scripts/setup.sh [--deploy-tools]
# --deploy-tools (npm test passes it when it runs test/deploy-*.test.ts) also installs Debian's prometheus and
# docker-compose packages, whose promtool and docker-compose check deploy/ statically; the demo does not need them.
set -euo pipefail
deploy_tools=0
for arg in "$@"; do
  case "$arg" in
    --deploy-tools) deploy_tools=1 ;;
    *) echo "usage: scripts/setup.sh [--deploy-tools]" >&2; exit 2 ;;
  esac
done

PG_MAJOR="${PG_MAJOR:-15}"
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

log() { printf '[setup] %s\n' "$*" >&2; }

apt_updated=0
apt_update() {
  if [ "$apt_updated" -eq 0 ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
}
need_pkg() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

need_pkg "postgresql-${PG_MAJOR}" "postgresql-client-${PG_MAJOR}" redis-server
# Static checks of deploy/: promtool (prometheus package) checks and unit-tests the alert rules, docker-compose
# parses docker-compose.yml without a Docker engine. Neither service is started.
if [ "$deploy_tools" -eq 1 ]; then need_pkg prometheus docker-compose; fi

sharedir="$("${PG_BIN}/pg_config" --sharedir 2>/dev/null || echo /usr/share/postgresql/${PG_MAJOR})"
if [ -f "${sharedir}/extension/vector.control" ]; then
  log "pgvector present"
else
  need_pkg "postgresql-server-dev-${PG_MAJOR}" build-essential dpkg-dev
  src_list=/etc/apt/sources.list.d/embedsync-trixie-src.list
  if [ ! -f "$src_list" ]; then
    log "adding deb-src for trixie (pgvector source only)"
    echo "deb-src http://deb.debian.org/debian trixie main" | $SUDO tee "$src_list" >/dev/null
    apt_updated=0
  fi
  apt_update
  work="$(mktemp -d)"
  (
    cd "$work"
    log "fetching pgvector source package"
    apt-get source -qq --download-only pgvector >/dev/null
    dpkg-source -x --no-check pgvector_*.dsc src >/dev/null
    cd src
    log "building pgvector"
    # OPTFLAGS="" avoids -march=native so the build runs on any x86_64.
    make -s OPTFLAGS="" PG_CONFIG="${PG_BIN}/pg_config" >/dev/null
    $SUDO make -s OPTFLAGS="" PG_CONFIG="${PG_BIN}/pg_config" install >/dev/null
  )
  rm -rf "$work"
  log "pgvector installed"
fi

# embedsync_capture (extension/): the UPDATE trigger's function compiled into the server, which migrate uses where a
# database has the extension. Built out of tree (no build products in the checkout); rebuilt when its sources are
# newer than the installed library.
libdir="$("${PG_BIN}/pg_config" --pkglibdir)"
ext_src="$(cd "$(dirname "$0")/../extension" && pwd)"
if [ -f "${libdir}/embedsync_capture.so" ] && [ -f "${sharedir}/extension/embedsync_capture.control" ] \
  && [ -z "$(find "$ext_src" -newer "${libdir}/embedsync_capture.so" -type f)" ]; then
  log "embedsync_capture present"
else
  need_pkg "postgresql-server-dev-${PG_MAJOR}" build-essential
  work="$(mktemp -d)"
  cp -r "$ext_src/." "$work"
  log "building embedsync_capture"
  make -s -C "$work" PG_CONFIG="${PG_BIN}/pg_config" >/dev/null
  $SUDO make -s -C "$work" PG_CONFIG="${PG_BIN}/pg_config" install >/dev/null
  rm -rf "$work"
  log "embedsync_capture installed"
fi
