#!/usr/bin/env bash
# Issue 10 point 3 (the clock starts at the send): the test LoadgenClock.StartsAtTheSendNotAtTheBatch
# scenario against the loadgen of 1791d29 (batch stamping) and the current one. A fake clock
# (LD_PRELOAD tests/fixtures/recv_cost_clock.cpp) makes every recv cost 20 ms; one connection.
# Prints latency p50/min and send-lag p50 for each. Cheap (< 1 s of load each); not timing-sensitive.
# usage: harness/measure/lgclock.sh [NEW_BUILD_DIR] [OLD_BUILD_DIR]
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)  # the repository
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
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
    | /usr/bin/python3 -c "
import json,sys; j=json.load(sys.stdin); l=j['latency_us']; s=j.get('schedule_lag_us',{})
print('$side: requests %d  latency p50 %.1f us  min %.1f us  send lag p50 %s us' % (j['summary']['requests'], l['p50'], l['min'], s.get('p50','(not recorded)')))"
done
