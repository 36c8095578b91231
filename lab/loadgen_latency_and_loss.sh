#!/usr/bin/env bash
# Prints: (1) closed-loop p50/p99 against epoll_lt at 1, 16, 64 and 256
# connections with the loadgen of 1791d29 (clock read once per epoll batch)
# beside today's (clock read right before each send), and (2) lost requests by
# cause against a server that stops answering 1 of 16 connections.
# Run: lab/loadgen_latency_and_loss.sh [AFTER_BUILD_DIR] [OUT_DIR]
# (defaults $ROOT/build, /tmp/measure_lg). "before" is the loadgen of commit
# 1791d29, built in the worktree ${TMPDIR:-/tmp}/iomodels-lg-before (built here if missing).
# Server pinned to CPU 0, loadgen to CPU 1. ~3 minutes on a quiet machine. QUICK=1: short
# runs (a check of the script, not figures).
# Details:
#  1. echo 64 B, 3 interleaved rounds, medians; the ratio new/old within each round
#     (median), and the new loadgen's send lag p50/p99 (reply seen -> request sent:
#     what the old figure wrongly included);
#  2. --pipeline 4, --timeout 1s, 5 s: requests, errors.timeout, lost requests by
#     cause, unsent, p99 and max, old loadgen beside the new one.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
AFTER=${1:-$ROOT/build}
OUT=${2:-/tmp/measure_lg}
BEFORE_WT=${TMPDIR:-/tmp}/iomodels-lg-before
rm -rf "$OUT" && mkdir -p "$OUT"
if [ ! -x "$BEFORE_WT/build/loadgen" ]; then
  [ -d "$BEFORE_WT" ] || git -C $ROOT worktree add --detach "$BEFORE_WT" 1791d29
  cmake -S "$BEFORE_WT" -B "$BEFORE_WT/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BEFORE_WT/build" --target loadgen >/dev/null
fi
OLD="$BEFORE_WT/build/loadgen"
NEW="$AFTER/loadgen"
SERVER="$AFTER/epoll_lt"
DUR=3; WARM=1; HANG_DUR=5
if [ -n "${QUICK:-}" ]; then DUR=0.5; WARM=0.2; HANG_DUR=2; fi

start_server() {  # $1: command...; sets SPID, PORT
  local log="$OUT/server.$RANDOM.log"
  taskset -c 0 "$@" >"$log" 2>&1 &
  SPID=$!
  for _ in $(seq 100); do
    PORT=$(grep -o 'listening [0-9.]*:[0-9]*' "$log" 2>/dev/null | grep -o '[0-9]*$' || true)
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "server did not start: $*" >&2; cat "$log" >&2; exit 1
}
stop_server() { kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; }

# 1. closed loop, interleaved: round -> connections -> old/new
for round in 1 2 3; do
  for c in 1 16 64 256; do
    start_server "$SERVER" --port 0
    for which in old new; do
      lg=$OLD; [ $which = new ] && lg=$NEW
      taskset -c 1 "$lg" --target 127.0.0.1:$PORT -c $c -d $DUR --warmup $WARM --progress off \
        -o "$OUT/closed_${which}_c${c}_r${round}.json" 2>/dev/null
    done
    stop_server
  done
done

# 2. a server that stops answering its 6th connection (reads, never replies)

for which in old new; do
  lg=$OLD; [ $which = new ] && lg=$NEW
  start_server /usr/bin/python3 "$LAB/py/server_stops_answering_one.py"
  taskset -c 1 "$lg" --target 127.0.0.1:$PORT -c 16 --pipeline 4 -d $HANG_DUR --timeout 1 --progress off \
    -o "$OUT/hang_${which}.json" 2>/dev/null
  stop_server
done

/usr/bin/python3 "$LAB/py/loadgen_latency_and_loss_tables.py" "$OUT"
