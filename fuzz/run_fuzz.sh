#!/usr/bin/env bash
# Runs every libFuzzer target of fuzz/ for SECONDS each, from its committed
# seeds (fuzz/corpus/<target>/, read only: new inputs go to a scratch folder).
# A crash, a leak, a timeout (10 s per input) or an rss over 2 GiB fails; the
# input that did it is kept in BUILD/artifacts/ and its name is printed.
#   fuzz/run_fuzz.sh build-fuzz 30
set -euo pipefail
BUILD=${1:?usage: run_fuzz.sh BUILD_DIR [SECONDS]}
SECONDS_EACH=${2:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$BUILD/artifacts"
failed=()
for corpus in "$HERE"/corpus/*/; do
  target=$(basename "$corpus")
  exe="$BUILD/fuzz_$target"
  [[ -x $exe ]] || { echo "run_fuzz: $exe not built" >&2; exit 1; }
  scratch=$(mktemp -d)
  log="$BUILD/fuzz_$target.log"
  if ASAN_OPTIONS=detect_leaks=1 "$exe" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
       -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/${target}-" \
       "$scratch" "$corpus" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz $target: ok, $runs inputs in ${SECONDS_EACH}s ($((runs / SECONDS_EACH)) execs/s)"
  else
    echo "fuzz $target: FAILED (log: $log)" >&2
    grep -E "ERROR|fuzz property|Test unit written|SUMMARY" "$log" | head -20 >&2 || true
    failed+=("$target")
  fi
  rm -rf "$scratch"
done
((${#failed[@]} == 0)) || { echo "run_fuzz: failed: ${failed[*]}" >&2; exit 1; }
