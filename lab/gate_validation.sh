#!/usr/bin/env bash
# Prints: per tier of harness ab (deterministic, fixed-load, capacity), the
# cases each flags and the seconds each takes, for AA runs of the regress
# suite (the same build as base and head) and for regressions injected into
# epoll_lt through LD_PRELOAD shims (tests/fixtures/recv_extra_cost.cpp):
#   getppid   one getppid() per recv             -> deterministic (syscalls)
#   loop3     6 more instructions per recv (~1%)  -> deterministic (instructions)
#   loop4000  ~1.3 us of spinning per recv (~25%) -> capacity and fixed-load
# The injected rows compare against epoll_lt under the loop0 shim (the same
# hook, no extra work) and run 4 servers (epoll_lt, epoll_et, poll, io_uring):
# only epoll_lt should be flagged.
# Run on a quiet machine: BIN=build AA=3 INJECT='getppid loop3 loop4000' lab/gate_validation.sh [OUT]
# (an AA run ~8 min, an injected one ~3 min)
# Needs: a Release build in BIN with the fixture_recv_* targets.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
BIN=$(cd "${BIN:-$ROOT/build}" && pwd)
AA=${AA:-3}
OUT=${1:-$(mktemp -d /tmp/gate_validation.XXXXXX)}
SUITE=${SUITE:-$ROOT/harness/suites/regress.json}
mkdir -p "$OUT"
wrapped() {  # $1 = shim name: a bin folder whose epoll_lt runs under it
  local shim=$BIN/tests/libfixture_recv_$1.so
  [[ -f $shim ]] || { echo "gate_validation.sh: no $shim (cmake --build $BIN --target fixture_recv_$1)" >&2; exit 3; }
  inject_bin "$BIN" "$shim" "$OUT/bin-$1"
}
summary() {  # $1 = label, $2 = ab folder, $3 = seconds
  printf '%-10s %4ss\n' "$1" "$3"
  /usr/bin/python3 "$LAB/py/ab_tiers_flagged.py" "$2/ab.json" | sed 's/^/    /'
}
run() {  # $1 = label, $2 = base bin, $3 = head bin, rest: extra harness ab options
  local label=$1 base=$2 head=$3 start=$SECONDS
  shift 3
  "$BIN/harness" ab --base-bin "$base" --head-bin "$head" --suite "$SUITE" --out "$OUT/$label" --progress off \
    --no-trailers "$@" > "$OUT/$label.log" 2>&1 || true
  summary "$label" "$OUT/$label" $((SECONDS - start))
  grep -h "tier took\|harness ab: [0-9]* s" "$OUT/$label.log" | sed 's/^/    /' || true
}
echo "load before: $(cat /proc/loadavg)"
for i in $(seq 1 "$AA"); do run "aa$i" "$BIN" "$BIN"; done
base=$(wrapped loop0)
for shim in ${INJECT:-getppid loop3 loop4000}; do
  run "$shim" "$base" "$(wrapped "$shim")" --servers epoll_lt,epoll_et,poll,io_uring
done
echo "load after: $(cat /proc/loadavg)"
