#!/usr/bin/env bash
# Closing-note figures for issue 10 (harness side) and issue 11 item 4.
# Run on a quiet machine from anywhere:  harness/measure/hx.sh [BUILD_DIR] [OUT_DIR]
# (default $ROOT/build, /tmp/measure_hx). Server pinned to CPU 0, loadgen to
# CPU 1 (the harness's defaults), repetitions interleaved, medians. ~3 minutes.
# QUICK=1 shortens every run (a check of the script, not figures).
# Prints:
#  1. server CPU µs/request by ticks (/proc, the old figure) vs by ns (process CPU
#     clock) at 1 and 64 connections, epoll_lt, 5 rounds each;
#  2. an open-loop sweep on epoll_lt up past its capacity: achieved rate, schedule
#     lag p99, the `saturated` flag and why;
#  3. the default suite's c16 case (echo 64 B, every server, 3 rounds): spread
#     (max/min) of absolute req/s across rounds beside the spread of the ratio to
#     epoll_lt paired by round; then the cost-per-message table (plots/table.py).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)  # the repository
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
BUILD=${1:-$ROOT/build}
OUT=${2:-/tmp/measure_hx}
SRC=${SRC:-$ROOT}   # the source tree (suites, plots/table.py)
H="$BUILD/harness"
rm -rf "$OUT" && mkdir -p "$OUT"
run() { "$H" run --suite "$OUT/$1.json" --out "$OUT/$1" --bin-dir "$BUILD" --progress off >"$OUT/$1.log" 2>&1 || { cat "$OUT/$1.log"; exit 1; }; }

cat >"$OUT/cpu.json" <<'J'
{"name": "cpu", "repetitions": 5, "servers": ["epoll_lt"],
 "defaults": {"protocol": "echo", "size": 64, "duration": 2, "warmup": 0.3},
 "groups": [{"name": "c", "connections": [1, 64]}]}
J
cat >"$OUT/open.json" <<'J'
{"name": "open", "repetitions": 3, "servers": ["epoll_lt"],
 "defaults": {"protocol": "echo", "size": 64, "connections": 16, "duration": 2, "warmup": 0.3},
 "groups": [{"name": "open_loop", "rate": [10000, 40000, 80000, 160000, 320000]}]}
J
python3 - "$SRC/harness/suites/default.json" "$OUT/c16.json" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
json.dump({"name": "c16", "repetitions": d.get("repetitions", 3), "servers": d.get("servers", "all"),
           "defaults": d["defaults"], "groups": [{"name": "concurrency", "connections": 16}]}, open(sys.argv[2], "w"))
P
if [ -n "${QUICK:-}" ]; then
  sed -i 's/"duration": [0-9.]*/"duration": 0.3/; s/"repetitions": [0-9]*/"repetitions": 2/' "$OUT"/*.json
fi
run cpu; run open; run c16

python3 - "$OUT" <<'P'
import json, os, statistics as st, sys
out = sys.argv[1]
load = lambda n: json.load(open(os.path.join(out, n, "run.json")))

print("1. epoll_lt server CPU per request, ticks (/proc, 10 ms) vs ns (process CPU clock), 5 rounds")
print(f"{'case':24} {'ticks µs/req med [min-max]':>30} {'ns µs/req med [min-max]':>30} {'ticks/ns':>9}")
for c in load("cpu")["cases"]:
    reps = [r for r in c["repetitions"] if r["status"] != "failed"]
    t = [r["server_cpu"]["tick_us_per_request"] for r in reps]
    n = [r["server_cpu"]["us_per_request"] for r in reps]
    f = lambda v: f"{st.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]"
    ratio = st.median([a / b for a, b in zip(t, n) if b > 0])
    print(f"{c['name']:24} {f(t):>30} {f(n):>30} {ratio:9.3f}   ({c['status']})")

print("\n2. epoll_lt open loop, 16 connections, 3 rounds (medians)")
print(f"{'offered/s':>10} {'achieved/s':>11} {'p99 µs':>9} {'lag p99 µs':>11} {'saturated':>10}  why")
for c in load("open")["cases"]:
    reps = [r for r in c["repetitions"] if r["status"] != "failed"]
    ach = st.median([r["loadgen"]["summary"]["requests_per_s"] for r in reps])
    p99 = c["aggregate"]["p99_us"]["median"]
    lag = c["aggregate"].get("schedule_lag_us", {}).get("p99", float("nan"))
    why = next((r["flags"].get("saturated_reason", "") for r in reps if r["flags"].get("saturated")), "")
    print(f"{c['params']['rate']:10.0f} {ach:11.0f} {p99:9.0f} {lag:11.1f} {str(c['flags']['saturated']):>10}  {why}")

print("\n3. default suite c16 (echo 64 B): spread across rounds, absolute vs paired by round")
print(f"{'server':22} {'req/s per round':>30} {'max/min':>8} {'x epoll_lt per round':>26} {'max/min':>8}")
for c in load("c16")["cases"]:
    reps = sorted((r for r in c["repetitions"] if r["status"] != "failed"), key=lambda r: r["round"])
    a = [r["loadgen"]["summary"]["requests_per_s"] for r in reps]
    pr = c["aggregate"].get("paired_ratio", {}).get("requests_per_s")
    ref = {r["round"]: r["loadgen"]["summary"]["requests_per_s"] for case in load("c16")["cases"]
           if case["server"] == "epoll_lt" for r in case["repetitions"] if r["status"] != "failed"}
    ratios = [r["loadgen"]["summary"]["requests_per_s"] / ref[r["round"]] for r in reps if r["round"] in ref]
    sa = f"{max(a) / min(a):.2f}" if a and min(a) > 0 else "-"
    sr = f"{max(ratios) / min(ratios):.2f}" if ratios and min(ratios) > 0 else "-"
    print(f"{c['server']:22} {' '.join(f'{x:.0f}' for x in a):>30} {sa:>8} "
          f"{' '.join(f'{x:.2f}' for x in ratios):>26} {sr:>8}   {c['status']}")
P
echo
python3 "$SRC/plots/table.py" "$OUT/c16"
