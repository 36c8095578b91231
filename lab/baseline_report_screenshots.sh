#!/usr/bin/env bash
# Closing-note screenshots for issue 24 (a report that tells a difference from
# noise), from the committed baseline, not a new run: usable on a loaded host.
# Run from the repo root (default $ROOT):  harness/measure/report_baseline.sh [BASELINE_DIR]
# 1. copies the baseline (run.json, servers.json, micro.json) into a scratch
#    folder and draws the report there with plots/plot.py,
# 2. checks the page against its run (tests/e2e/check_report.py --run) and
#    the README against the baseline (table, notes, figures),
# 3. screenshots with headless Chromium at 1400 px: the summary, one model
#    panel (libuv), the p99-vs-rate figure, the cost figure, the case table.
# Prints the takeaways and the paths of the screenshots (/tmp/report-shots).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)  # the repository
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$ROOT"
base=${1:-results/baselines/intel-xeon-processor-2cpu/default}
command -v chromium >/dev/null || apt-get install -y --no-install-recommends chromium >/dev/null
out=$(mktemp -d /tmp/report-baseline.XXXXXX)
cp "$base"/*.json "$out/"
/usr/bin/python3 plots/plot.py "$out"
/usr/bin/python3 tests/e2e/check_report.py "$out/index.html" --run "$out/run.json"
/usr/bin/python3 plots/table.py --markdown --check README.md
/usr/bin/python3 plots/readme_figures.py --check README.md
shots=/tmp/report-shots; mkdir -p "$shots"
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
/usr/bin/python3 - "$out" <<'PY'
import sys
sys.path.insert(0, "plots")
from report_data import load_run, index_cases
from report_rules import takeaways
run = load_run(sys.argv[1])
for s, _ in takeaways(run, index_cases(run)):
    print(" -", s)
PY
echo "report: $out/index.html"
ls -la "$shots"
