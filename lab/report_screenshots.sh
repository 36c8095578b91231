#!/usr/bin/env bash
# Closing-note figures for issue 16 (the report). Run on a quiet machine from
# the repo root (default $ROOT):  harness/measure/report.sh [REPO]
# 1. ./run_all.sh (default suite, pinned by the harness: server CPU 0, loadgen
#    CPU 1, interleaved rounds; it calls plots/plot.py, which writes index.html),
# 2. checks the page (tests/e2e/check_report.py --run),
# 3. screenshots it with headless Chromium: top (summary + takeaways), a model
#    panel, the figures, full page,
# 4. (README figures come from the committed baseline: harness/measure/report_baseline.sh.)
# Prints the results folder, the checker's verdict, the three takeaways and the
# paths of the screenshots.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)  # the repository
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
REPO=${1:-$ROOT}
cd "$REPO"
command -v chromium >/dev/null || apt-get install -y --no-install-recommends chromium >/dev/null
./run_all.sh 2>&1 | tail -n 40
out=$(ls -dt results/*-default | head -1)
echo "results: $REPO/$out"
/usr/bin/python3 tests/e2e/check_report.py "$out/index.html" --run "$out/run.json"
shots=/tmp/report-shots; mkdir -p "$shots"
snap() {  # name height [fragment]
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --hide-scrollbars --window-size=1400,"$2" --screenshot="$shots/$1.png" \
    "file://$REPO/$out/index.html${3:-}" >/dev/null 2>&1 || echo "screenshot $1 failed"
}
# "#only-ID" makes the page show its header and that one element (report.js):
# headless Chromium draws blank pages when it has to scroll to a fragment.
snap summary 1100 "#only-summary"
snap panel 1100 "#only-model-io_uring_multishot"
snap figures 4000 "#only-figures"
snap full 9000
# README figures are no longer copied from a run: they are drawn from the
# committed baseline (plots/make_baseline.py --readme, plots/readme_figures.py;
# the CTest readme_figures checks them).
echo "takeaways:"
/usr/bin/python3 - "$out" <<'PY'
import sys, os
sys.path.insert(0, "plots")
from report_data import load_run, index_cases
from report_rules import takeaways
run = load_run(sys.argv[1])
for s, _ in takeaways(run, index_cases(run)):
    print(" -", s)
PY
ls -la "$shots"
