#!/usr/bin/env bash
# Prints: the regression gate's error rates: (1) per A/A run of the regress
# suite (the same build as base and head), the cases flagged and the seconds
# taken; (2) for one run with a real slowdown injected into epoll_lt (N extra
# getppid() per recv, on a throwaway commit in a throwaway worktree, built by
# the gate itself with --head), which cases are flagged (only epoll_lt should be).
# Run on a quiet machine: lab/gate_error_rates.sh   (~35 min)
# Env: REPO (default $ROOT), RUNS (10), N (extra getppid per recv, 10), OUT (/tmp/measure_regress).
# Pinning: server CPU 0, loadgen CPU 1 (harness defaults), base/head
# interleaved A B / B A per round. Builds REPO's build/ first.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
REPO=${REPO:-$ROOT}
RUNS=${RUNS:-10}
N=${N:-10}
OUT=${OUT:-/tmp/measure_regress}
BUILD=$REPO/build
rm -rf "$OUT"; mkdir -p "$OUT"
echo "== build $REPO ($(git -C "$REPO" rev-parse --short HEAD))"
cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 >/dev/null
SUITE=$REPO/harness/suites/regress.json
summary() {  # ab.json -> "flagged=N gated=G: cases..."
  /usr/bin/python3 "$LAB/py/ab_summary_line.py" "$1"
}
echo "== 1. $RUNS A/A runs of the regress suite (same build both sides)"
for i in $(seq 1 "$RUNS"); do
  start=$SECONDS
  rc=0
  "$BUILD/harness" ab --suite "$SUITE" --base-bin "$BUILD" --head-bin "$BUILD" --no-trailers --progress off \
    --out "$OUT/aa$i" >"$OUT/aa$i.log" 2>&1 || rc=$?
  echo "A/A run $i: exit $rc, $((SECONDS - start)) s, $(summary "$OUT/aa$i/ab.json")"
done

echo "== 2. injected slowdown: $N extra getppid() per recv in epoll_lt, on a throwaway commit"
INJ=$OUT/inject-src
git -C "$REPO" worktree add --detach "$INJ" HEAD >/dev/null 2>&1
/usr/bin/python3 "$LAB/py/inject_after_recv.py" "$INJ/servers/epoll_lt.cpp" getppid "$N"
git -C "$INJ" -c user.name=measure -c user.email=measure@localhost commit -qam "throwaway: $N getppid() per recv in epoll_lt (lab/gate_error_rates.sh)"
SHA=$(git -C "$INJ" rev-parse HEAD)
start=$SECONDS
rc=0
"$BUILD/harness" ab --suite "$SUITE" --base-bin "$BUILD" --head "$SHA" --work-dir "$OUT/work" --no-trailers \
  --progress off --out "$OUT/inject" >"$OUT/inject.log" 2>&1 || rc=$?
echo "injected run: exit $rc, $((SECONDS - start)) s (including the head build), $(summary "$OUT/inject/ab.json")"
grep -E '^epoll_lt/' "$OUT/inject.log" || true
git -C "$REPO" worktree remove --force "$INJ" >/dev/null 2>&1 || true
for d in "$OUT"/work/*/src; do git -C "$REPO" worktree remove --force "$d" >/dev/null 2>&1 || true; done
git -C "$REPO" worktree prune
echo "== logs and ab.json files under $OUT"
