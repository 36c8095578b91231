#!/usr/bin/env bash
# Prints: asio and libuv against epoll_lt, echo 64 B, cases c16, c64, c64
# pipeline 16: req/s ratio per round (median), server CPU per request and its
# excess over epoll_lt, syscalls per message (strace -c) beside the servers'
# own counters, user-space instructions per request (callgrind) and heap
# allocations per 1000 requests (heaptrack) when those tools are installed.
# Run: BUILD=$ROOT/build ROUNDS=5 DUR=5 STRACE_N=200000 lab/frameworks_vs_epoll.sh  (~4 min)
# Needs strace; valgrind and heaptrack are optional (CALLGRIND=0, HEAP=0 skip them).
# Server pinned to cpu $SERVER_CPU, loadgen to cpu $LOADGEN_CPU (one thread);
# server order rotated per round. Server CPU per request: utime+stime of the
# server (/proc/PID/stat) over the loadgen's run (no warmup, so the window is
# the run) / requests answered. Syscalls: strace -c -f attached to the server
# for a fixed -n run (c16 and c64p16), calls / requests.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
BUILD=${BUILD:-$ROOT/build}
ROUNDS=${ROUNDS:-5}
DUR=${DUR:-5}
STRACE_N=${STRACE_N:-200000}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
SERVERS=(epoll_lt asio libuv)
declare -A CASES=([c16]="-c 16" [c64]="-c 64" [c64p16]="-c 64 -p 16")
CASE_ORDER=(c16 c64 c64p16)
OUT=$(mktemp -d /tmp/measure_frameworks.XXXXXX)
echo "results under $OUT" >&2
for s in "${SERVERS[@]}" loadgen; do [[ -x $BUILD/$s ]] || { echo "missing $BUILD/$s" >&2; exit 1; }; done
need strace

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# start_server NAME STATSFILE -> sets SPID, PORT
start_server() {
  local name=$1 stats=$2 fifo
  fifo=$(mktemp -u "$OUT/listen.XXXX"); mkfifo "$fifo"
  taskset -c "$SERVER_CPU" "$BUILD/$name" --stats-file "$stats" >"$fifo" 2>>"$OUT/server_stderr.log" &
  SPID=$!
  local line; read -r -t 10 line <"$fifo" || { echo "$name did not start" >&2; exit 1; }
  rm -f "$fifo"
  PORT=${line##*:}
}
stop_server() { kill -TERM "$SPID"; wait "$SPID" || true; }

run_case() {  # SERVER CASE ROUND
  local name=$1 case=$2 round=$3 tag="$OUT/$2.$1.r$3"
  start_server "$name" "$tag.stats.json"
  local t0; t0=$(cpu_ticks "$SPID")
  # shellcheck disable=SC2086
  taskset -c "$LOADGEN_CPU" "$BUILD/loadgen" --target "127.0.0.1:$PORT" ${CASES[$case]} -d "$DUR" \
    --progress off -o "$tag.loadgen.json" 2>/dev/null
  local t1; t1=$(cpu_ticks "$SPID")
  stop_server
  echo "$name $case $round $((t1 - t0))" >>"$OUT/cpu.txt"
}

for ((r = 0; r < ROUNDS; r++)); do
  for case in "${CASE_ORDER[@]}"; do
    for ((i = 0; i < ${#SERVERS[@]}; i++)); do
      run_case "${SERVERS[$(((i + r) % ${#SERVERS[@]}))]}" "$case" "$r"  # rotate who goes first
    done
  done
  echo "round $((r + 1))/$ROUNDS done" >&2
done

# Syscalls per message, strace attached for a fixed number of requests.
for case in c16 c64p16; do
  for name in "${SERVERS[@]}"; do
    tag="$OUT/strace.$case.$name"
    start_server "$name" "$tag.stats.json"
    strace -c -f -q -p "$SPID" -o "$tag.strace" & tpid=$!
    sleep 0.5
    # shellcheck disable=SC2086
    taskset -c "$LOADGEN_CPU" "$BUILD/loadgen" --target "127.0.0.1:$PORT" ${CASES[$case]} -d 0 \
      -n "$STRACE_N" --progress off -o "$tag.loadgen.json" 2>/dev/null
    kill -INT "$tpid"; wait "$tpid" || true
    stop_server
  done
done

# What limits a framework, independent of load: user-space instructions per
# request (callgrind, c1 ping-pong, difference of two fixed runs so start-up
# cancels) and heap allocations per request (heaptrack, c16 pipeline 4).
CALLGRIND=${CALLGRIND:-1}
HEAP=${HEAP:-1}
server_under() {  # TOOL-ARGS... -- NAME N LOADGEN-ARGS: NAME under the tool for N requests
  local tool=() name n
  while [[ $1 != -- ]]; do tool+=("$1"); shift; done; shift
  name=$1 n=$2; shift 2
  local fifo; fifo=$(mktemp -u "$OUT/listen.XXXX"); mkfifo "$fifo"
  "${tool[@]}" "$BUILD/$name" --port 0 --stats-file "$OUT/tool.$name.stats.json" >"$fifo" \
    2>>"$OUT/server_stderr.log" & local tpid=$!
  local line=""  # the tool may print lines of its own first (heaptrack does)
  exec 9<"$fifo"
  while [[ $line != listening* ]] && read -r -t 60 line <&9; do :; done
  exec 9<&-; rm -f "$fifo"
  [[ $line == listening* ]] || { echo "$name under ${tool[0]} did not start" >&2; kill "$tpid"; return 1; }
  local spid; spid=$(pgrep -P "$tpid" -x "$name" || true); spid=${spid:-$tpid}
  "$BUILD/loadgen" --target "127.0.0.1:${line##*:}" "$@" -d 0 -n "$n" --timeout 60 --progress off \
    -o /dev/null 2>/dev/null
  kill -TERM "$spid"; wait "$tpid" || true
}
: >"$OUT/limits.txt"
for name in "${SERVERS[@]}"; do
  if ((CALLGRIND)) && command -v valgrind >/dev/null; then
    for n in 5000 25000; do
      server_under valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.$name.$n" -- "$name" "$n" -c 1
    done
    a=$(awk '/^summary:/{print $2}' "$OUT/cg.$name.5000"); b=$(awk '/^summary:/{print $2}' "$OUT/cg.$name.25000")
    echo "$name instructions_per_request $(( (b - a) / 20000 ))" >>"$OUT/limits.txt"
  fi
  if ((HEAP)) && command -v heaptrack >/dev/null; then
    for n in 5000 25000; do
      server_under heaptrack -o "$OUT/ht.$name.$n" -- "$name" "$n" -c 16 -p 4
    done
    a=$(heaptrack_print "$OUT"/ht."$name".5000.* 2>/dev/null | awk '/^calls to allocation functions/{print $5}')
    b=$(heaptrack_print "$OUT"/ht."$name".25000.* 2>/dev/null | awk '/^calls to allocation functions/{print $5}')
    echo "$name allocations_per_1000_requests $(( (b - a) * 1000 / 20000 ))" >>"$OUT/limits.txt"
  fi
done

/usr/bin/python3 "$LAB/py/frameworks_vs_epoll_tables.py" "$OUT" "$CLK_TCK" "$ROUNDS"
