#!/usr/bin/env bash
# Makes sure the servers the test suites talk to are up on loopback:
#   start         Redis on 6379, PostgreSQL on 5432 (database "test", trust auth), and a
#                 three-node Redis Cluster on 7101-7103; installs Debian packages if missing,
#                 among them the browsers of the browser tests (chromium, firefox-esr).
#   stop-cluster  stops the cluster nodes this script started (Redis and PostgreSQL stay up).
set -euo pipefail
cd "$(dirname "$0")/.."

install_packages() {
  if [ "$(id -u)" != 0 ]; then
    echo "test-services: $* missing and not root; install them or set the ONCELY_TEST_* URLs" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

start_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  command -v redis-server >/dev/null || install_packages redis-server
  mkdir -p /tmp/oncely-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/oncely-redis --logfile /tmp/oncely-redis/redis.log
  for _ in $(seq 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "test-services: Redis did not start" >&2
  exit 1
}

start_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    ensure_test_database
    return
  fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    install_packages postgresql
    local conf
    conf=$(ls -d /etc/postgresql/*/main | head -n 1)
    # Tests connect over loopback as postgres without a password.
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$conf/pg_hba.conf"
  fi
  local version
  version=$(ls /etc/postgresql | head -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.1; done
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "test-services: PostgreSQL did not start" >&2; exit 1; }
  ensure_test_database
}

ensure_test_database() {
  if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -d postgres -c 'create database test' >/dev/null
  fi
}

# The browser tests drive Debian's own builds (never a downloaded browser).
install_browsers() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
  if [ "${#missing[@]}" -gt 0 ]; then install_packages "${missing[@]}"; fi
}

case "${1:-}" in
  start)
    install_browsers
    start_redis
    start_postgres
    # A cluster left over from an interrupted run is replaced, not reused: its state is unknown.
    bash scripts/redis-cluster.sh stop
    bash scripts/redis-cluster.sh start
    ;;
  stop-cluster)
    bash scripts/redis-cluster.sh stop
    ;;
  *)
    echo "usage: scripts/test-services.sh start|stop-cluster" >&2
    exit 2
    ;;
esac
