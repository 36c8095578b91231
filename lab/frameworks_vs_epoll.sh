#!/usr/bin/env bash
# Issue 15 closing-note figures: asio and libuv against epoll_lt, echo 64 B.
#   server pinned to cpu $SERVER_CPU, loadgen to cpu $LOADGEN_CPU (one thread),
#   cases c16, c64, c64 pipeline 16; $ROUNDS rounds, server order rotated per
#   round; per round the ratio framework/epoll_lt; medians of those ratios.
#   Server CPU per request: utime+stime of the server (/proc/PID/stat) over the
#   loadgen's run (no warmup, so the window is the run) / requests answered.
#   Syscalls per message: strace -c -f attached to the server for a fixed -n
#   run (c16 and c64p16), calls / requests; beside it the server's own
#   counters (asio/libuv count by link-time wrapping, epoll_lt by hand).
# Usage: BUILD=$ROOT/build ROUNDS=5 DUR=5 STRACE_N=200000 harness/measure/frameworks.sh
# Needs: strace, python3. Run on a quiet machine (nothing compiling).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)  # the repository
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
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
command -v strace >/dev/null || { echo "needs strace (apt-get install strace)" >&2; exit 1; }

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

python3 - "$OUT" "$CLK_TCK" "$ROUNDS" <<'EOF'
import json, statistics, sys, glob, os, re
out, tck, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
servers = ["epoll_lt", "asio", "libuv"]
cases = ["c16", "c64", "c64p16"]
cpu = {}
for line in open(os.path.join(out, "cpu.txt")):
    n, c, r, t = line.split(); cpu[(n, c, int(r))] = int(t) / tck
def lg(n, c, r):
    return json.load(open(f"{out}/{c}.{n}.r{r}.loadgen.json"))["summary"]
print("\n== Throughput and server CPU (medians over %d rounds; ratio = per-round framework/epoll_lt)" % rounds)
print(f"{'case':8} {'server':9} {'req/s':>10} {'ratio':>7} {'ratio min..max':>16} {'cpu us/req':>11} {'+us/req vs lt':>14}")
targets = {"c16": 0.95, "c64": 0.95, "c64p16": 0.9}
for c in cases:
    for n in servers:
        rps, ratios, us, dus = [], [], [], []
        for r in range(rounds):
            s, b = lg(n, c, r), lg("epoll_lt", c, r)
            rps.append(s["requests_per_s"]); ratios.append(s["requests_per_s"] / b["requests_per_s"])
            u = cpu[(n, c, r)] * 1e6 / max(1, s["requests"]); ub = cpu[("epoll_lt", c, r)] * 1e6 / max(1, b["requests"])
            us.append(u); dus.append(u - ub)
            errs = sum(v for v in s["errors"].values())
            if errs: print(f"  ! {n} {c} round {r}: {errs} errors")
        med = statistics.median(ratios)
        flag = "" if n == "epoll_lt" else ("  ok" if med >= targets[c] else f"  MISSES {targets[c]}x")
        print(f"{c:8} {n:9} {statistics.median(rps):10.0f} {med:7.3f} {min(ratios):7.3f}..{max(ratios):<7.3f} "
              f"{statistics.median(us):11.2f} {statistics.median(dus):+14.2f}{flag}")
print("\n== Syscalls per request (strace -c -f, fixed -n run) and the server's own counters per request")
for c in ["c16", "c64p16"]:
    for n in servers:
        tag = f"{out}/strace.{c}.{n}"
        req = json.load(open(tag + ".loadgen.json"))["summary"]["requests"]
        calls = {}
        for line in open(tag + ".strace"):
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)$", line)
            if m and m.group(3) != "total": calls[m.group(3)] = (int(m.group(1)), int(m.group(2) or 0))
        total = sum(v[0] for v in calls.values())
        st = json.load(open(tag + ".stats.json"))["counters"]
        own = st.get("syscalls", {}); own_total = sum(own.values())
        detail = ", ".join(f"{k} {v[0]/req:.2f}" + (f" ({v[1]/req:.2f} err)" if v[1] else "")
                           for k, v in sorted(calls.items(), key=lambda kv: -kv[1][0]) if v[0] / req >= 0.005)
        print(f"{c:7} {n:9} strace {total/req:5.2f}/req: {detail}")
        print(f"{'':17} own counters {own_total/req:5.2f}/req, wakeups {st['wakeups']/req:.3f}/req, "
              f"events {st['events']/req:.2f}/req (server's whole life: this run only)")
lim = os.path.join(out, "limits.txt")
if os.path.getsize(lim):
    print("\n== Load-independent costs (user-space instructions per request at c1, callgrind; "
          "heap allocations per 1000 requests at c16 p4, heaptrack)")
    for line in open(lim):
        n, k, v = line.split(); print(f"{n:9} {k:32} {v}")
EOF
