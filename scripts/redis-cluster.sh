#!/usr/bin/env bash
# Starts or stops a three-node Redis Cluster on loopback ports 7101-7103, for the
# cluster tests:
#
#   scripts/redis-cluster.sh start
#   ONCELY_TEST_REDIS_CLUSTER_URL=redis-cluster://127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103 \
#     npx vitest run test/stores/redis-cluster
#   scripts/redis-cluster.sh stop
#
# Node files, logs and pid files live in $ONCELY_REDIS_CLUSTER_DIR (default: a fixed
# directory under $TMPDIR), so that `stop` kills exactly the processes `start` began.
set -euo pipefail

ports=(7101 7102 7103)
dir="${ONCELY_REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/oncely-redis-cluster}"

running_pid() { # prints the pid of the node on port $1 when it is still running
  local pidfile="$dir/redis-$1.pid"
  [[ -f "$pidfile" ]] || return 1
  local pid
  pid="$(cat "$pidfile")"
  # The pid must still belong to a redis-server, or it was reused by another process.
  [[ "$(ps -p "$pid" -o comm= 2>/dev/null)" == redis-server* ]] || return 1
  echo "$pid"
}

wait_until() { # runs "$@" every 0.1 s until it succeeds, for at most 30 s
  for _ in $(seq 300); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

cluster_ok() {
  for port in "${ports[@]}"; do
    redis-cli -h 127.0.0.1 -p "$port" cluster info | grep -q '^cluster_state:ok' || return 1
  done
}

start() {
  for port in "${ports[@]}"; do
    if running_pid "$port" >/dev/null; then
      echo "a cluster node already runs on port $port: run '$0 stop' first" >&2
      exit 1
    fi
  done
  rm -rf "$dir"
  mkdir -p "$dir"
  for port in "${ports[@]}"; do
    redis-server --port "$port" --bind 127.0.0.1 \
      --cluster-enabled yes --cluster-config-file "nodes-$port.conf" \
      --save "" --appendonly no --daemonize yes --dir "$dir" \
      --pidfile "$dir/redis-$port.pid" --logfile "$dir/redis-$port.log"
  done
  for port in "${ports[@]}"; do
    wait_until redis-cli -h 127.0.0.1 -p "$port" ping || {
      echo "the node on port $port did not start; see $dir/redis-$port.log" >&2
      exit 1
    }
  done
  redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >/dev/null
  wait_until cluster_ok || {
    echo "the cluster did not reach cluster_state:ok within 30 s" >&2
    exit 1
  }
  echo "Redis Cluster ready: redis-cluster://127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103"
}

stop() {
  local pids=()
  for port in "${ports[@]}"; do
    if pid="$(running_pid "$port")"; then pids+=("$pid"); fi
  done
  if ((${#pids[@]} > 0)); then
    kill "${pids[@]}"
    for pid in "${pids[@]}"; do
      wait_until bash -c "! kill -0 $pid" || kill -9 "$pid"
    done
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
