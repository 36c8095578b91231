#!/usr/bin/env bash
# Prints: latency p50/min and send-lag p50 of the loadgen of 1791d29 (batch
# stamping) and of the current one, under a fake clock in which every recv
# costs 20 ms (LD_PRELOAD tests/fixtures/recv_cost_clock.cpp), one connection:
# whether closed-loop latency starts at the send (the scenario of the test
# LoadgenClock.StartsAtTheSendNotAtTheBatch).
# Run: lab/loadgen_send_clock.sh [NEW_BUILD_DIR] [OLD_BUILD_DIR]
# (defaults $ROOT/build and ${TMPDIR:-/tmp}/iomodels-lg-before/build, which
# lab/loadgen_latency_and_loss.sh builds). Cheap (< 1 s of load each); not timing-sensitive.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
NEW=${1:-$ROOT/build}; OLD=${2:-${TMPDIR:-/tmp}/iomodels-lg-before/build}
SHIM=$NEW/tests/libfixture_recv_cost_clock.so
[ -f "$SHIM" ] || { echo "build target fixture_recv_cost_clock in $NEW first" >&2; exit 2; }
"$NEW/epoll_lt" --port 17977 >/dev/null 2>&1 & srv=$!
trap 'kill $srv 2>/dev/null' EXIT
sleep 0.5
for side in old new; do
  lg=$OLD/loadgen; [ $side = new ] && lg=$NEW/loadgen
  timeout 60 env LD_PRELOAD="$SHIM" RECV_COST_NS=20000000 "$lg" --target 127.0.0.1:17977 -c 1 -t 1 -d 2 --progress off 2>/dev/null \
    | /usr/bin/python3 "$LAB/py/loadgen_send_clock_line.py" "$side"
done
