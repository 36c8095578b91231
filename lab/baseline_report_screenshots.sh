#!/usr/bin/env bash
# Prints: the report of the committed baseline, checked (page against its run,
# the README's table, notes and figures against the baseline), its takeaways,
# and the paths of screenshots: the summary, one model panel (libuv), the
# p99-vs-rate figure, the cost figure, the case table.
# Run:  lab/baseline_report_screenshots.sh [BASELINE_DIR] [SHOTS_DIR]
# (defaults results/baselines/amd-epyc-2cpu/default, /tmp/report-shots;
# ~3 min, no new run: usable on a loaded host). Needs chromium.
# The report is drawn in a scratch folder (plots/plot.py on a copy of the
# baseline); screenshots with headless Chromium at 1400 px.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
cd "$ROOT"
base=${1:-results/baselines/amd-epyc-2cpu/default}
need chromium
out=$(mktemp -d /tmp/report-baseline.XXXXXX)
cp "$base"/*.json "$out/"
/usr/bin/python3 plots/plot.py "$out"
/usr/bin/python3 tests/e2e/check_report.py "$out/index.html" --run "$out/run.json"
/usr/bin/python3 plots/table.py --markdown --check README.md
/usr/bin/python3 plots/readme_figures.py --check README.md
shots=${2:-/tmp/report-shots}; mkdir -p "$shots"
snap() {  # name height fragment; "#only-ID" shows the header and that one element (report.js)
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --hide-scrollbars --window-size=1400,"$2" --screenshot="$shots/$1.png" \
    "file://$out/index.html$3" >/dev/null 2>&1 || echo "screenshot $1 failed"
}
snap summary 1900 "#only-summary"
snap panel_libuv 900 "#only-model-libuv"
snap p99_vs_rate 1150 "#only-fig-p99_vs_rate"
snap cost 1250 "#only-fig-cost_per_message"
snap cases 700 "#only-cases"
/usr/bin/python3 "$LAB/py/report_takeaways.py" "$out"
echo "report: $out/index.html"
ls -la "$shots"
echo "nothing tracked was changed; to use a screenshot in a note or docs/img, copy it from $shots yourself"
