#!/usr/bin/python3
"""The page of `harness compare` / `harness ab` (plots/compare_page.py) on the
synthetic fixture. Run from the top of the tree (CTest report_unit does):
  PYTHONPATH=plots:tests/e2e /usr/bin/python3 -m unittest discover -s tests/report"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import check_report
import fixture
from iomodels_plots.run_loader import THROUGHPUT

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"


def write_run(d, run):
    with open(os.path.join(d, "run.json"), "w") as f:
        json.dump(run, f)


class ComparePage(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="compare-test-")
        self.run = fixture.make_run()
        write_run(self.dir, self.run)
        cases = []
        for i, c in enumerate(self.run["cases"]):
            verdict = "regression" if i == 5 else "improvement" if i == 6 else "unchanged"
            ratio = 0.8 if verdict == "regression" else 1.2 if verdict == "improvement" else 1.0
            cases.append({"name": c["name"], "server": c["server"], "verdict": verdict,
                          "reason": "req/s -20% [-25%, -15%]" if verdict == "regression" else "",
                          "metrics": {THROUGHPUT: {"ratio": ratio, "lo": ratio - 0.05, "hi": ratio + 0.05,
                                                         "p": 0.01, "base": 1000.0, "head": 1000.0 * ratio}}})
        self.cmp = {"schema": "iomodels.compare/1", "kind": "ab", "reference": "epoll_lt", "threshold": 0.05,
                    "base": {"label": "HEAD~1"}, "head": {"label": "HEAD", "path": "run.json"}, "cases": cases}
        self.cmp_path = os.path.join(self.dir, "compare.json")
        with open(self.cmp_path, "w") as f:
            json.dump(self.cmp, f)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def make(self, *extra):
        out = os.path.join(self.dir, "compare.html")
        r = subprocess.run([PY, os.path.join(ROOT, "plots", "compare_page.py"), self.cmp_path, out, *extra],
                           capture_output=True, text=True, timeout=120)
        return r, out

    def test_regressions_first_with_panels_and_links_resolving(self):
        r, out = self.make()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 regression", r.stdout)
        problems, p = check_report.check_page(out)
        self.assertEqual(problems, [])
        rows = [a["id"] for tag, a in p.elements if tag == "tr" and a.get("id", "").startswith("case-")]
        self.assertEqual(rows[0], "case-" + self.cmp["cases"][5]["name"])
        self.assertEqual(rows[1], "case-" + self.cmp["cases"][6]["name"])
        panels = {a["id"] for tag, a in p.elements if "panel" in a.get("class", "").split()}
        self.assertEqual(panels, {f"model-{m}" for m in fixture.MODELS})

    def test_harness_ab_json_with_head_run_beside_it(self):
        os.makedirs(os.path.join(self.dir, "head"))
        write_run(os.path.join(self.dir, "head"), self.run)
        cases = [{"name": c["name"], "server": c["server"], "verdict": "ok", "reason": "", "pairs": 3,
                  "metrics": {"cpu_ns_per_request": {"base_median": 8000.0, "head_median": 8100.0, "ratio": 1.01,
                                                     "lo": 0.99, "hi": 1.03, "p": 0.4, "p_holm": 1.0}}}
                 for c in self.run["cases"]]
        cases[3].update({"verdict": "accepted", "accepted_reason": "one more syscall, for X"})
        cases[4].update({"verdict": "regression", "reason": "cpu_ns_per_request x1.300"})
        ab = {"schema": "iomodels.ab/1", "comparable": True, "base": {"label": "HEAD~1", "sha": "abc"},
              "head": {"label": "worktree"}, "cases": cases,
              "summary": {"regressions": 1, "accepted": 1, "cpu_threshold": 0.05}}
        self.cmp_path = os.path.join(self.dir, "ab.json")
        with open(self.cmp_path, "w") as f:
            json.dump(ab, f)
        r, out = self.make()
        self.assertEqual(r.returncode, 0, r.stderr)
        problems, p = check_report.check_page(out)
        self.assertEqual(problems, [])
        rows = [a["id"] for tag, a in p.elements if tag == "tr" and a.get("id", "").startswith("case-")]
        self.assertEqual(rows[:2], ["case-" + cases[4]["name"], "case-" + cases[3]["name"]])
        with open(out) as f:
            page = f.read()
        self.assertIn("accepted: one more syscall, for X", page)
        self.assertIn("CPU ns/req head/base", page)
        self.assertIn('id="model-io_uring"', page)

    def test_no_comparable_base_is_a_page_saying_so(self):
        with open(self.cmp_path, "w") as f:
            json.dump({"schema": "iomodels.ab/1", "comparable": False, "reason": "base predates the gate",
                       "base": {"spec": "HEAD^"}, "head": {"spec": "worktree"}}, f)
        r, out = self.make()
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            self.assertIn("No comparable base:</b> base predates the gate", f.read())
        self.assertEqual(check_report.check_page(out)[0], [])

    def test_bad_input_exits_2_naming_the_field(self):
        self.cmp["cases"][0].pop("name")
        with open(self.cmp_path, "w") as f:
            json.dump(self.cmp, f)
        r, _ = self.make()
        self.assertEqual(r.returncode, 2)
        self.assertIn("cases[0].name", r.stderr)


if __name__ == "__main__":
    unittest.main()
