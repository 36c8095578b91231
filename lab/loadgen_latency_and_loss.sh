#!/usr/bin/env bash
# Closing-note figures for issue 10, loadgen side. Run on a quiet machine:
#   harness/measure/lg.sh [AFTER_BUILD_DIR] [OUT_DIR]
# (defaults $ROOT/build, /tmp/measure_lg). "before" is the loadgen of commit
# 1791d29, built in the worktree ${TMPDIR:-/tmp}/iomodels-lg-before (built here if missing).
# Server pinned to CPU 0, loadgen to CPU 1. ~3 minutes. QUICK=1: short runs (a check
# of the script, not figures).
# Prints:
#  1. closed loop against epoll_lt at 1, 16, 64, 256 connections (echo 64 B): p50 and
#     p99 (µs) with the old loadgen (clock read once per epoll batch) and the new one
#     (clock read right before each send), 3 interleaved rounds, medians; the ratio
#     new/old within each round (median), and the new loadgen's send lag p50/p99
#     (reply seen -> request sent: what the old figure wrongly included);
#  2. a server that stops answering 1 of 16 connections (--pipeline 4, --timeout 1s,
#     5 s): requests, errors.timeout, lost requests by cause, unsent, p99 and max,
#     old loadgen beside the new one.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)  # the repository
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
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
cat >"$OUT/hang_server.py" <<'P'
import asyncio, sys
count = 0
async def serve(reader, writer):
    global count
    mine = count; count += 1
    while True:
        data = await reader.read(65536)
        if not data: break
        if mine != 5:
            writer.write(data); await writer.drain()
    writer.close()
async def main():
    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    print("listening 127.0.0.1:%d" % srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()
asyncio.run(main())
P
for which in old new; do
  lg=$OLD; [ $which = new ] && lg=$NEW
  start_server python3 "$OUT/hang_server.py"
  taskset -c 1 "$lg" --target 127.0.0.1:$PORT -c 16 --pipeline 4 -d $HANG_DUR --timeout 1 --progress off \
    -o "$OUT/hang_${which}.json" 2>/dev/null
  stop_server
done

python3 - "$OUT" <<'P'
import json, os, statistics as st, sys
out = sys.argv[1]
load = lambda n: json.load(open(os.path.join(out, n)))
print("1. closed loop vs epoll_lt (echo 64 B, server CPU 0, loadgen CPU 1), 3 interleaved rounds, medians (µs)")
print(f"{'conns':>5} {'old p50':>9} {'new p50':>9} {'new/old':>8} {'old p99':>9} {'new p99':>9} {'new/old':>8}"
      f" {'new lag p50':>11} {'new lag p99':>11} {'old req/s':>10} {'new req/s':>10}")
for c in (1, 16, 64, 256):
    o = [load(f"closed_old_c{c}_r{r}.json") for r in (1, 2, 3)]
    n = [load(f"closed_new_c{c}_r{r}.json") for r in (1, 2, 3)]
    med = lambda js, *k: st.median([eval("j" + "".join(f"[{x!r}]" for x in k)) for j in js])
    r50 = st.median([b["latency_us"]["p50"] / a["latency_us"]["p50"] for a, b in zip(o, n)])
    r99 = st.median([b["latency_us"]["p99"] / a["latency_us"]["p99"] for a, b in zip(o, n)])
    print(f"{c:5d} {med(o,'latency_us','p50'):9.1f} {med(n,'latency_us','p50'):9.1f} {r50:8.3f}"
          f" {med(o,'latency_us','p99'):9.1f} {med(n,'latency_us','p99'):9.1f} {r99:8.3f}"
          f" {med(n,'schedule_lag_us','p50'):11.1f} {med(n,'schedule_lag_us','p99'):11.1f}"
          f" {med(o,'summary','requests_per_s'):10.0f} {med(n,'summary','requests_per_s'):10.0f}")
print("\n2. server that stops answering 1 of 16 connections (--pipeline 4, --timeout 1s)")
print(f"{'loadgen':>7} {'requests':>9} {'timeouts':>8} {'lost':>5} {'lost by cause':>32} {'unsent':>6} {'p99 µs':>9} {'max µs':>10}")
for which in ("old", "new"):
    j = load(f"hang_{which}.json"); s = j["summary"]
    lost = s.get("lost")
    causes = ", ".join(f"{k} {v}" for k, v in lost.items() if k != "total" and v) if lost else "(not counted)"
    print(f"{which:>7} {s['requests']:9d} {s['errors']['timeout']:8d} {str(lost['total']) if lost else '-':>5}"
          f" {causes:>32} {str(s.get('unsent', '-')):>6} {j['latency_us']['p99']:9.1f} {j['latency_us']['max']:10.1f}")
P
