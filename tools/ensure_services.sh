#!/usr/bin/env bash
# Make sure the real servers the tests use are running: PostgreSQL, Redis, and Debian's Chromium;
# and that bubblewrap, the media probe's sandbox, is installed.
# Starts them when installed; installs them with apt-get when missing and running as root.
set -euo pipefail

as_root() { [ "$(id -u)" = "0" ]; }
apt_updated=""
apt_install() {
  if ! as_root; then
    echo "error: $* is missing and this is not root; install it (apt-get install $*) and retry." >&2
    exit 1
  fi
  if [ -z "$apt_updated" ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL -------------------------------------------------------------------------------
installed_pg=""
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  echo "Installing PostgreSQL..."
  apt_install postgresql
  installed_pg=1
fi
PGVER="$(ls /etc/postgresql | sort -V | tail -1)"
if [ -n "$installed_pg" ]; then
  # A fresh test server: trust local TCP connections, as the test settings expect.
  HBA="/etc/postgresql/$PGVER/main/pg_hba.conf"
  sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$HBA"
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "Starting PostgreSQL $PGVER..."
  pg_ctlcluster --skip-systemctl-redirect "$PGVER" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if [ -n "$installed_pg" ]; then pg_ctlcluster --skip-systemctl-redirect "$PGVER" main reload || true; fi
pg_isready -h 127.0.0.1 -p 5432

# Redis ------------------------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1; then
  echo "Installing Redis..."
  apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Starting Redis..."
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping

# bubblewrap: the media probe's sandbox (evidence/sandbox.py) --------------------------------
if ! command -v bwrap >/dev/null 2>&1; then
  echo "Installing bubblewrap..."
  apt_install bubblewrap
fi
bwrap --version

# Chromium for the browser tests -------------------------------------------------------------
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Chromium..."
  apt_install chromium
fi
# A Korean font, so that screenshots of Korean pages are readable.
if ! fc-list :lang=ko 2>/dev/null | grep -q .; then
  echo "Installing a Korean font for browser screenshots..."
  apt_install fonts-nanum || echo "warning: no Korean font; screenshots will show boxes" >&2
fi
/usr/bin/chromium --version

# axe-core for the accessibility checks in the browser tests (from the npm registry).
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -f "$ROOT/var/node/node_modules/axe-core/axe.min.js" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "Installing npm..."
    apt_install nodejs npm
  fi
  mkdir -p "$ROOT/var/node"
  (cd "$ROOT/var/node" && npm install --silent --no-audit --no-fund axe-core@4)
fi
ls "$ROOT/var/node/node_modules/axe-core/axe.min.js" >/dev/null
