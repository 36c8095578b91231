#!/usr/bin/python3
"""lab/gate_mutants.sh: breaks the regression gate one way at a time in a throwaway
copy of the source and lists which of its tests fail (SURVIVED when none does).
The mutants are applied to a git worktree of ROOT's HEAD under WORK_DIR/src, built
in WORK_DIR/build: the checkout itself is never edited. The worktree is kept for
the next run (remove it with `git worktree remove --force WORK_DIR/src`).
Usage: gate_mutants.py ROOT WORK_DIR ONLY_UNIT(0|1) [MUTANT NAME...]"""
import os, re, shutil, subprocess, sys
repo, work, only_unit, wanted = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4:]
root, build = os.path.join(work, "src"), os.path.join(work, "build")
if not os.path.isdir(root):
    subprocess.run(["git", "-C", repo, "worktree", "add", "--detach", root, "HEAD"], check=True)
if not os.path.exists(os.path.join(build, "build.ninja")):
    launcher = ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"] if shutil.which("ccache") else []
    subprocess.run(["cmake", "-S", root, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"] + launcher,
                   check=True, stdout=subprocess.DEVNULL)
MUTANTS = [  # name, file, old, new
    ("no alternation", "harness/gate/ab.cpp",
     "return round % 2 == 0 ? std::array<int, 2>{0, 1} : std::array<int, 2>{1, 0};",
     "return std::array<int, 2>{0, 1};"),
    ("never flag", "harness/gate/ab_judge.cpp", "if (adj[k] <= alpha_one_sided) {", "if (false) {"),
    ("always flag", "harness/gate/ab_judge.cpp", "if (adj[k] <= alpha_one_sided) {", "if (true) {"),
    ("Holm off", "harness/gate/ab_judge.cpp", "auto adj = stats::holm_adjust(p);", "auto adj = p;"),
    ("base and head swapped (judge)", "harness/gate/ab_judge.cpp", "d.push_back(std::log(y / x));", "d.push_back(std::log(x / y));"),
    ("base and head swapped (runner)", "harness/gate/ab.cpp", "judge_ab(base.run, head.run, judge)", "judge_ab(head.run, base.run, judge)"),
    ("interval at 95% whatever Holm", "harness/gate/ab_judge.cpp",
     "auto ci = stats::hodges_lehmann(diffs[{members[k].first, metric_of(key)}], level);",
     "auto ci = stats::hodges_lehmann(diffs[{members[k].first, metric_of(key)}], 1 - 2 * alpha_one_sided);"),
    ("interval at the two-sided Holm level", "harness/gate/ab_judge.cpp",
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
print("\n| mutant | tests that failed |\n|---|---|")
for name, caught in results: print(f"| {name} | {caught} |")
sys.exit(1 if survived else 0)
