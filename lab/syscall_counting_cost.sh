#!/usr/bin/env bash
# Prints: what counting syscalls costs, and what it sees of an injected cost:
#  1. epoll_lt against itself at fixed load (open loop, c16, RATE req/s offered),
#     kernel syscall counting on the head side only (harness ab
#     --count-syscalls head): the CPU/message ratio is the counter's own cost,
#     with its 95% interval.
#  2. epoll_lt with one getppid() per recv (LD_PRELOAD
#     build/tests/libfixture_recv_getppid.so) against epoll_lt, same fixed
#     load, A B / B A pairs, counted on both sides (COUNT_ROUNDS rounds):
#     kernel syscalls per message of each side (median over rounds, by name).
#  2b. the same pairs without counters (ROUNDS rounds): the CPU/message ratio
#     head/base with its 95% interval (Hodges-Lehmann, signed-rank).
#  3. `harness cost` at c1 for both (fixed request counts): kernel syscalls and
#     callgrind instructions per message, base and injected.
# Run: BIN=$ROOT/build ROUNDS=14 RATE=40000 lab/syscall_counting_cost.sh [OUT_DIR]
# Time: about 2 x ROUNDS x 2 x (0.5 s + 0.2 s warmup + ~0.3 s) + 1 min: ~2.5 min at 14 rounds.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
BIN=${BIN:-$ROOT/build}
ROUNDS=${ROUNDS:-20}
COUNT_ROUNDS=${COUNT_ROUNDS:-4}
RATE=${RATE:-40000}
OUT=${1:-$(mktemp -d /tmp/measure_cost.XXXXXX)}
SHIM=${SHIM:-$BIN/tests/libfixture_recv_getppid.so}
[ -f "$SHIM" ] || { echo "cost.sh: no $SHIM (build target fixture_recv_getppid)" >&2; exit 3; }
mkdir -p "$OUT"
echo "load average before: $(cat /proc/loadavg)"

# The injected build: the build folder with epoll_lt replaced by a wrapper
# that execs it (same pid) under the LD_PRELOAD shim.
INJ=$(inject_bin "$BIN" "$SHIM" "$OUT/inject-bin")

SUITE=$OUT/cost_fixed.json
cat > "$SUITE" <<JSON
{"name": "cost_fixed", "description": "epoll_lt at a fixed offered rate (lab/syscall_counting_cost.sh)",
 "repetitions": 1, "servers": ["epoll_lt"],
 "defaults": {"protocol": "echo", "size": 64, "connections": 16, "duration": 0.5, "warmup": 0.2},
 "groups": [{"name": "cost", "rate": $RATE}]}
JSON

echo "== 1. counting's own cost: epoll_lt vs epoll_lt, counted on head only, $RATE req/s, $ROUNDS rounds"
"$BIN/harness" ab --base-bin "$BIN" --head-bin "$BIN" --suite "$SUITE" --count-syscalls head --repetitions "$ROUNDS" \
  --out "$OUT/overhead" --progress off --cpu-threshold 50% --p99-threshold 99% || true
echo "load average: $(cat /proc/loadavg)"

echo "== 2. getppid per recv in epoll_lt, $RATE req/s, $COUNT_ROUNDS rounds, counted on both sides"
"$BIN/harness" ab --base-bin "$BIN" --head-bin "$INJ" --suite "$SUITE" --count-syscalls both --repetitions "$COUNT_ROUNDS" \
  --out "$OUT/inject" --progress off --cpu-threshold 1% --p99-threshold 99% --min-pairs 1 >/dev/null || true
echo "load average: $(cat /proc/loadavg)"
/usr/bin/python3 "$LAB/py/kernel_syscalls_by_side.py" "$OUT/inject"
echo "load average: $(cat /proc/loadavg)"
echo "== 2b. the same pairs, no counters, $ROUNDS rounds: CPU per message head/base"
"$BIN/harness" ab --base-bin "$BIN" --head-bin "$INJ" --suite "$SUITE" --repetitions "$ROUNDS" \
  --out "$OUT/inject_cpu" --progress off --cpu-threshold 1% --p99-threshold 99% || true

echo "== 3. harness cost at c1 (fixed request counts 2000,6000): base and injected"
"$BIN/harness" cost --server epoll_lt --bin-dir "$BIN" --requests 2000,6000 --out "$OUT/cost_base.json" >/dev/null
"$BIN/harness" cost --server epoll_lt --bin-dir "$BIN" --requests 2000,6000 --server-env "LD_PRELOAD=$SHIM" \
  --out "$OUT/cost_inject.json" >/dev/null
/usr/bin/python3 "$LAB/py/harness_cost_lines.py" "$OUT"
echo "load average after: $(cat /proc/loadavg)"
echo "results in $OUT"
