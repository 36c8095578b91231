#!/usr/bin/env bash
# Prints: the wan suite at 64 connections and RTT 0, 1 and 10 ms: per RTT the
# harness summary and which link emulation ran, then req/s and p99 per model
# per RTT (plots/wan.py), and the wall time of the suite.
# Run (root: network namespaces):  lab/wan_rtt.sh [REPO (default $ROOT)] [REPS (default 2)]
#   env: SERVERS=a,b (default all), SKIP_BUILD=1 (use the build as it is)
# netns lab; --link via tc netem, or the userspace delay line where the kernel
# lacks sch_netem (run.json context.link_emulation says which). Pinned by the
# harness: server taskset -c 0, loadgen (and the delay line) -c 1; rounds
# interleaved across servers; medians over REPS rounds. ~7 min with REPS=2.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
REPO=${1:-$ROOT}
REPS=${2:-2}
BUILD=${IOMODELS_BUILD_DIR:-$REPO/build}
cd "$REPO"
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j2 >/dev/null
fi
OUT=/tmp/measure_wan-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
# The wan suite, 64 connections only (the 1,000-connection group does not fit the budget).
/usr/bin/python3 "$LAB/py/suite_wan64.py" "$REPO/harness/suites/wan.json" "$OUT/wan64.json" "$REPS"
start=$(date +%s)
dirs=()
for rtt in 0 1 10; do
  link=()
  [[ $rtt != 0 ]] && link=(--link "delay=$(awk "BEGIN{print $rtt/2}")ms")
  t0=$(date +%s)
  "$BUILD/harness" run --progress off --no-micro --suite "$OUT/wan64.json" --topology netns \
    ${SERVERS:+--servers "$SERVERS"} --out "$OUT/rtt$rtt" "${link[@]}" 2>&1 | grep -E "^harness" || true
  echo "RTT $rtt ms: $(( $(date +%s) - t0 )) s, link_emulation=$(/usr/bin/python3 "$LAB/py/run_context_field.py" "$OUT/rtt$rtt" link_emulation)"
  [[ -f $OUT/rtt$rtt/logs/delayline.log ]] && grep -h "delayline:" "$OUT/rtt$rtt/logs/delayline.log" | \
    awk '{d+=0; for(i=1;i<=NF;i++) if ($i ~ /^drops=/) {split($i,a,"="); d+=a[2]}} END {print "  delay line drops:", d+0}'
  dirs+=("$OUT/rtt$rtt")
done
echo "wan suite (64 connections, $REPS reps, 3 RTTs) took $(( $(date +%s) - start )) s"
/usr/bin/python3 "$REPO/plots/wan.py" "$OUT/plots" "${dirs[@]}"
echo "results: $OUT"
