#!/usr/bin/env bash
# Prints: (1) CI time on 2 cores from a fresh clone without ccache, phase by
# phase as ./run_all.sh test prints them ("[run_all] times: build=..s
# tests=..s asan_build=..s ..."); (2) posix_aio's seconds from SIGTERM to exit
# with 10,000 idle connections (median of 3; server CPU 0, client CPU 1).
# Run on a quiet machine:  lab/ci_time_and_aio_stop.sh [REPO]   (default $ROOT; ~30 min)
# Needs bc and git.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
need bc
REPO=${1:-$ROOT}
WORK=$(mktemp -d /tmp/measure-robust.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
git clone -q "$REPO" "$WORK/repo"
cd "$WORK/repo"
echo "== CI time (taskset -c 0,1, CCACHE_DISABLE=1)"
CCACHE_DISABLE=1 taskset -c 0,1 ./run_all.sh test > "$WORK/ci.log" 2>&1 || echo "run_all.sh test FAILED (see below)"
grep '\[run_all\] .*took\|\[run_all\] times:' "$WORK/ci.log" || tail -40 "$WORK/ci.log"

echo "== posix_aio stop with 10,000 idle connections"
ulimit -n 30000
stop_once() {
  local out="$WORK/pa.out" ready="$WORK/pa.ready"
  rm -f "$ready"
  taskset -c 0 ./build/posix_aio --port 0 --max-connections 20000 >"$out" 2>/dev/null &
  local sp=$!
  for _ in $(seq 50); do grep -q listening "$out" 2>/dev/null && break; sleep 0.1; done
  local port; port=$(grep -o ':[0-9]*' "$out" | head -1 | tr -d :)
  taskset -c 1 /usr/bin/python3 "$LAB/py/idle_connections_client.py" "$port" "$ready" &
  local py=$!
  for _ in $(seq 600); do [[ -f $ready ]] && break; sleep 0.1; done
  sleep 1
  local t0 t1; t0=$(date +%s.%N); kill -TERM "$sp"; wait "$sp" || true; t1=$(date +%s.%N)
  kill "$py" 2>/dev/null || true; wait "$py" 2>/dev/null || true
  echo "$t1 - $t0" | bc
}
times=()
for i in 1 2 3; do times+=("$(stop_once)"); done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "stop seconds: runs %s %s %s, median %s\n", a[1], a[2], a[3], a[2]}'
