#!/usr/bin/env bash
# Prints: the results folder of a fresh default run, the report checker's
# verdict on its page, the three takeaways, and the paths of screenshots of the
# page (summary, a model panel, the figures, the full page).
# Run on a quiet machine:  lab/report_screenshots.sh [REPO] [SHOTS_DIR]
# (defaults $ROOT, /tmp/report-shots; ~20 min). Needs chromium.
# 1. ./run_all.sh (default suite, pinned by the harness: server CPU 0, loadgen
#    CPU 1, interleaved rounds; it calls plots/plot.py, which writes index.html),
# 2. checks the page (tests/e2e/check_report.py --run),
# 3. screenshots it with headless Chromium into SHOTS_DIR.
# It edits no tracked file: the README's figures come from the committed
# baseline (lab/baseline_report_screenshots.sh, plots/make_baseline.py --readme).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
REPO=${1:-$ROOT}
cd "$REPO"
need chromium
IOMODELS_NO_INSTALL=1 ./run_all.sh 2>&1 | tail -n 40  # installs nothing: a missing package stops it
out=$(ls -dt results/*-default | head -1)
echo "results: $REPO/$out"
/usr/bin/python3 tests/e2e/check_report.py "$out/index.html" --run "$out/run.json"
shots=${2:-/tmp/report-shots}; mkdir -p "$shots"
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
/usr/bin/python3 "$LAB/py/report_takeaways.py" "$out"
ls -la "$shots"
echo "nothing tracked was changed; to use a screenshot in a note or docs/img, copy it from $shots yourself"
