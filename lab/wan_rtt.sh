#!/usr/bin/env bash
# Issue 14 closing-note figures: the wan suite at 64 connections, RTT 0, 1 and 10 ms
# (netns lab; --link via tc netem, or the userspace delay line where the kernel lacks
# sch_netem -- run.json context.link_emulation says which). Pinned by the harness:
# server taskset -c 0, loadgen (and the delay line) -c 1; rounds interleaved across
# servers by the harness; medians over REPS rounds.
# Prints per RTT the harness summary, then the table (req/s, p99 per model per RTT)
# from plots/wan.py, and the wall time of the suite.  ~7 min with REPS=2 on 2 cores.
#   usage: harness/measure/wan.sh [REPO (default $ROOT)] [REPS (default 2)]
#   env: SERVERS=a,b (default all), SKIP_BUILD=1 (use the build as it is)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)  # the repository
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
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
/usr/bin/python3 - "$REPO/harness/suites/wan.json" "$OUT/wan64.json" "$REPS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["name"] = "wan64"
s["repetitions"] = int(sys.argv[3])
for g in s["groups"]:
    g["connections"] = [64]
json.dump(s, open(sys.argv[2], "w"), indent=1)
PY
start=$(date +%s)
dirs=()
for rtt in 0 1 10; do
  link=()
  [[ $rtt != 0 ]] && link=(--link "delay=$(awk "BEGIN{print $rtt/2}")ms")
  t0=$(date +%s)
  "$BUILD/harness" run --progress off --no-micro --suite "$OUT/wan64.json" --topology netns \
    ${SERVERS:+--servers "$SERVERS"} --out "$OUT/rtt$rtt" "${link[@]}" 2>&1 | grep -E "^harness" || true
  echo "RTT $rtt ms: $(( $(date +%s) - t0 )) s, link_emulation=$(/usr/bin/python3 -c \
    "import json;print(json.load(open('$OUT/rtt$rtt/run.json'))['context'].get('link_emulation'))")"
  [[ -f $OUT/rtt$rtt/logs/delayline.log ]] && grep -h "delayline:" "$OUT/rtt$rtt/logs/delayline.log" | \
    awk '{d+=0; for(i=1;i<=NF;i++) if ($i ~ /^drops=/) {split($i,a,"="); d+=a[2]}} END {print "  delay line drops:", d+0}'
  dirs+=("$OUT/rtt$rtt")
done
echo "wan suite (64 connections, $REPS reps, 3 RTTs) took $(( $(date +%s) - start )) s"
/usr/bin/python3 "$REPO/plots/wan.py" "$OUT/plots" "${dirs[@]}"
echo "results: $OUT"
