#!/usr/bin/env bash
# Prints: (1) server CPU µs/request by ticks (/proc, the old figure) against ns
# (process CPU clock); (2) an open-loop sweep past capacity with the `saturated`
# flag and why; (3) the spread across rounds of absolute req/s against ratios to
# epoll_lt paired by round, then the cost-per-message table (plots/table.py).
# Run on a quiet machine:  lab/harness_cpu_saturation_spread.sh [BUILD_DIR] [OUT_DIR]
# (default $ROOT/build, /tmp/measure_hx). Server pinned to CPU 0, loadgen to
# CPU 1 (the harness's defaults), repetitions interleaved, medians. ~3 minutes.
# QUICK=1 shortens every run (a check of the script, not figures).
# Details:
#  1. epoll_lt at 1 and 64 connections, 5 rounds each;
#  2. epoll_lt, 16 connections, offered 10k..320k req/s: achieved rate, schedule
#     lag p99, saturated and its reason;
#  3. the default suite's c16 case (echo 64 B, every server, 3 rounds).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
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
/usr/bin/python3 "$LAB/py/suite_c16_from_default.py" "$SRC/harness/suites/default.json" "$OUT/c16.json"
if [ -n "${QUICK:-}" ]; then
  sed -i 's/"duration": [0-9.]*/"duration": 0.3/; s/"repetitions": [0-9]*/"repetitions": 2/' "$OUT"/*.json
fi
run cpu; run open; run c16

/usr/bin/python3 "$LAB/py/harness_cpu_saturation_spread_tables.py" "$OUT"
echo
python3 "$SRC/plots/table.py" "$OUT/c16"
