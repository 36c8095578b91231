#!/usr/bin/env bash
# Issue 21 item 3: break the regression gate on purpose, one way at a time,
# and list which of its tests fail. Each mutant is one textual change to
# harness/ab.cpp or harness/ab_judge.cpp; the file is restored afterwards
# (also on Ctrl-C). A mutant that no test catches is printed as SURVIVED and
# the script exits 1.
# Usage: harness/measure/gate_mutants.sh [NAME...]   (build/ must be configured)
#        ONLY_UNIT=1 skips the end-to-end ab_tests (the no-alternation mutant needs them)
# Time: one rebuild of the harness and the two test programs per mutant.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -uo pipefail
BUILD=${BUILD:-$ROOT/build}
exec /usr/bin/python3 - "$ROOT" "$BUILD" "${ONLY_UNIT:-0}" "$@" <<'PY'
import os, re, shutil, subprocess, sys
root, build, only_unit, wanted = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4:]
MUTANTS = [  # name, file, old, new
    ("no alternation", "harness/ab.cpp",
     "return round % 2 == 0 ? std::array<int, 2>{0, 1} : std::array<int, 2>{1, 0};",
     "return std::array<int, 2>{0, 1};"),
    ("never flag", "harness/ab_judge.cpp", "if (adj[k] <= alpha_one_sided) {", "if (false) {"),
    ("always flag", "harness/ab_judge.cpp", "if (adj[k] <= alpha_one_sided) {", "if (true) {"),
    ("Holm off", "harness/ab_judge.cpp", "auto adj = stats::holm_adjust(p);", "auto adj = p;"),
    ("base and head swapped (judge)", "harness/ab_judge.cpp", "d.push_back(std::log(y / x));", "d.push_back(std::log(x / y));"),
    ("base and head swapped (runner)", "harness/ab.cpp", "judge_ab(base.run, head.run, judge)", "judge_ab(head.run, base.run, judge)"),
    ("interval at 95% whatever Holm", "harness/ab_judge.cpp",
     "auto ci = stats::hodges_lehmann(diffs[{members[k].first, key}], level);",
     "auto ci = stats::hodges_lehmann(diffs[{members[k].first, key}], opt.confidence);"),
    ("interval at the two-sided Holm level", "harness/ab_judge.cpp",
     "const double level = 1 - 2 * alpha_one_sided / static_cast<double>(members.size() - j);",
     "const double level = 1 - alpha_one_sided / static_cast<double>(members.size() - j);"),
]
def run(cmd, timeout=1800):
    p = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr
def failing(out):
    return sorted(set(re.findall(r"\[  FAILED  \] (\w+\.\w+)", out)))
results, survived = [], 0
for name, path, old, new in MUTANTS:
    if wanted and name not in wanted: continue
    full = os.path.join(root, path)
    text = open(full).read()
    if text.count(old) != 1:
        print(f"{name}: the text to change is not in {path} exactly once; the gate changed, update this script")
        survived += 1
        continue
    shutil.copy(full, full + ".orig")
    try:
        open(full, "w").write(text.replace(old, new))
        rc, out = run(["ninja", "-C", build, "harness", "unit_tests", "ab_tests"])
        if rc != 0:
            results.append((name, "did not build: " + out[-300:])); continue
        caught = []
        _, out = run([f"{build}/tests/unit_tests", "--gtest_filter=AbJudge.*:HodgesLehmann.*:Holm.*:SignedRank.*"])
        caught += failing(out)
        if not only_unit:
            _, out = run([f"{build}/tests/ab_tests"])
            caught += failing(out)
        results.append((name, ", ".join(caught) if caught else "SURVIVED"))
        survived += not caught
    finally:
        shutil.move(full + ".orig", full)
        os.utime(full)  # rebuilt next time
    print(f"{name}: {results[-1][1]}", flush=True)
run(["ninja", "-C", build, "harness", "unit_tests", "ab_tests"])  # back to the real gate
print("\n| mutant | tests that failed |\n|---|---|")
for name, caught in results: print(f"| {name} | {caught} |")
sys.exit(1 if survived else 0)
PY
