#!/usr/bin/python3
"""Unit tests of the report generator (plots/) on the synthetic fixture:
the rules, the fallbacks for an iomodels.run/1 run, the page checker, and the
compare page. Run: /usr/bin/python3 -m unittest discover -s tests/report"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(ROOT, "plots"), os.path.join(ROOT, "tests", "e2e")]

import check_report  # noqa: E402
import fixture  # noqa: E402
import report_data  # noqa: E402
import report_rules  # noqa: E402

PY = "/usr/bin/python3"


def write_run(d, run):
    with open(os.path.join(d, "run.json"), "w") as f:
        json.dump(run, f)


class Rules(unittest.TestCase):
    def setUp(self):
        self.run = fixture.make_run(2)
        self.by = report_data.index_cases(self.run)
        self.servers = report_data.Servers([], "test")

    def case(self, server, cid):
        return self.by[(server, cid)]

    def test_scenarios_follow_parameters(self):
        got = {report_data.scenario(c["params"]) for c in self.run["cases"]}
        self.assertEqual(got, {"concurrency", "idle", "pipeline", "protocol", "rate"})

    def test_paired_ratio_from_the_harness_when_present(self):
        r = report_data.paired_ratio(self.case("io_uring", "echo/c64/s64/p16"), self.by)
        self.assertEqual(r["source"], "harness paired ratio, 95% interval")
        self.assertAlmostEqual(r["median"], 1.8)
        self.assertLess(r["lo"], 1.8)

    def test_paired_ratio_computed_per_round_for_run_v1(self):
        old = fixture.make_run(1)
        by = report_data.index_cases(old)
        r = report_data.paired_ratio(by[("io_uring", "echo/c64/s64/p16")], by)
        # Rounds drift 2.6x, yet each round's ratio is 1.8: pairing cancels the drift.
        self.assertAlmostEqual(r["lo"], 1.8)
        self.assertAlmostEqual(r["hi"], 1.8)
        self.assertIn("computed by the report", r["source"])

    def test_cost_per_message_from_the_harness_else_from_counters(self):
        cpm = report_data.cost_per_message(self.case("epoll_lt", "echo/c64/s64"))
        self.assertEqual(cpm["source"], "harness (window)")
        self.assertAlmostEqual(cpm["syscalls_total"], 2.5)
        old = report_data.index_cases(fixture.make_run(1))
        cpm = report_data.cost_per_message(old[("epoll_lt", "echo/c64/s64")])
        self.assertIn("stop-time counters", cpm["source"])
        self.assertAlmostEqual(cpm["syscalls"]["recv"], 1.0)
        self.assertAlmostEqual(cpm["syscalls_total"], 2.5)

    def test_summary_cells_mark_flagged_cases(self):
        s = report_rules.summary_cells(self.run, self.servers, self.by)
        self.assertEqual(s["cells"][("select", "protocol")]["marks"], "D")
        self.assertIn("S", s["cells"][("blocking_threads", "concurrency")]["marks"])
        self.assertIn("L", s["cells"][("io_uring", "pipeline")]["marks"])
        self.assertIn("F", s["cells"][("blocking_threads", "rate")]["marks"])
        self.assertIsNone(s["cells"][("blocking_threads", "rate")]["value"])
        self.assertEqual(s["cells"][("epoll_lt", "idle")]["marks"], "")

    def test_summary_cell_is_geometric_mean_of_the_cases(self):
        s = report_rules.summary_cells(self.run, self.servers, self.by)
        # blocking_threads: 0.6 at c1 and c64, 1.0 at c16 (the idle base case).
        self.assertAlmostEqual(s["cells"][("blocking_threads", "concurrency")]["value"], (0.6 * 0.6) ** (1 / 3))

    def test_takeaways_name_the_right_models(self):
        t = report_rules.takeaways(self.run, self.by)
        self.assertEqual(len(t), 3)
        idle, pipe, threads = (s for s, _ in t)
        self.assertIn("cost select 70%", idle)
        self.assertIn("io_uring served the most, 1.80×", pipe)
        self.assertIn("blocking_threads", threads)
        self.assertIn("20.0 µs", threads)

    def test_pipeline_takeaway_skips_variants_and_names_no_winner_inside_the_noise(self):
        import copy
        pipe = next(c for c in self.run["cases"] if c["server"] == "io_uring" and "/p16" in c["name"])
        v = copy.deepcopy(pipe)
        v["name"], v["server_args"] = "libuv[--try-write 0]" + pipe["name"][len("io_uring"):], ["--try-write", "0"]
        v["server"] = "libuv"
        v["aggregate"]["paired_ratio"]["requests_per_s"].update(median=3.0, lo=2.9, hi=3.1)
        self.run["cases"].append(v)
        t = report_rules.takeaways(self.run, report_data.index_cases(self.run))
        self.assertIn("io_uring served the most", t[1][0])  # the variant's 3.0x is not a model's figure
        pipe["aggregate"]["paired_ratio"]["requests_per_s"].update(lo=0.9)
        t = report_rules.takeaways(self.run, report_data.index_cases(self.run))
        self.assertIn("no model served clearly more than epoll_lt", t[1][0])

    def test_takeaways_fall_back_to_other_rules(self):
        run = fixture.make_run(2)
        run["cases"] = [c for c in run["cases"] if report_data.scenario(c["params"]) == "concurrency"]
        t = report_rules.takeaways(run, report_data.index_cases(run))
        self.assertTrue(any("best throughput" in s for s, _ in t), t)
        self.assertFalse(any("Idle" in s for s, _ in t))

    def test_server_variants_are_rows_of_their_own(self):
        import copy
        v = copy.deepcopy(self.case("io_uring", "echo/c64/s64"))
        v["name"], v["server_args"] = "io_uring[--setup plain]/echo/c64/s64", ["--setup", "plain"]
        v["aggregate"]["paired_ratio"]["requests_per_s"]["median"] = 0.5
        self.run["cases"].append(v)
        by = report_data.index_cases(self.run)
        self.assertIs(by[("io_uring", "echo/c64/s64")], self.case("io_uring", "echo/c64/s64"))
        self.assertIs(by[("io_uring[--setup plain]", "echo/c64/s64")], v)
        s = report_rules.summary_cells(self.run, self.servers, by)
        self.assertIn("io_uring[--setup plain]", s["models"])
        self.assertAlmostEqual(s["cells"][("io_uring[--setup plain]", "concurrency")]["value"], 0.5)
        worst = report_rules.best_worst("io_uring", self.run, by)[1]
        self.assertIn(v["name"], [c["name"] for c, _ in worst])

    def test_verdict_needs_the_whole_interval(self):
        self.assertEqual(report_rules.verdict(1.2, 1.05, 1.3), "better")
        self.assertEqual(report_rules.verdict(1.2, 0.95, 1.3), "same")
        self.assertEqual(report_rules.verdict(0.8, 0.7, 0.9), "worse")

    def test_best_and_worst_do_not_overlap(self):
        best, worst = report_rules.best_worst("io_uring", self.run, self.by)
        self.assertEqual(best[0][0]["name"], "io_uring/echo/c64/s64/p16")
        self.assertFalse({c["name"] for c, _ in best} & {c["name"] for c, _ in worst})

    def test_flags_carry_reasons(self):
        f = dict(report_data.flags(self.case("io_uring", "echo/c64/s64/p16")))
        self.assertIn("99%", f["loadgen_bound"])
        f = dict(report_data.flags(self.case("select", "http/c64/s64")))
        self.assertEqual(f["degraded"], "12 requests lost (timeout)")


class Fixture(unittest.TestCase):
    def test_fixture_is_valid_against_the_run_schema(self):
        import jsonschema
        with open(os.path.join(ROOT, "results", "schema", "run.schema.json")) as f:
            schema = json.load(f)
        want = schema.get("properties", {}).get("schema", {})
        tried = 0
        for v in (1, 2):
            run = fixture.make_run(v)
            if "const" in want and want["const"] != run["schema"]:
                continue
            if "enum" in want and run["schema"] not in want["enum"]:
                continue
            jsonschema.validate(run, schema)
            tried += 1
        self.assertGreater(tried, 0, "the schema accepts neither iomodels.run/1 nor /2")


class Page(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="report-test-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def plot(self, run):
        write_run(self.dir, run)
        return subprocess.run([PY, os.path.join(ROOT, "plots", "plot.py"), self.dir],
                              capture_output=True, text=True, timeout=300)

    def check(self):
        problems, p = check_report.check_page(os.path.join(self.dir, "index.html"))
        with open(os.path.join(self.dir, "run.json")) as f:
            problems += check_report.check_run(p, json.load(f))
        return problems

    def test_v2_page_passes_the_checker(self):
        r = self.plot(fixture.make_run(2))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.check(), [])
        with open(os.path.join(self.dir, "index.html")) as f:
            page = f.read()
        for s in ("io_uring served the most", "summary_heatmap.png", "spectrum-case", "Calibration per round",
                  "Units: ratio of requests/s (×). 3 rounds."):  # the summary states units and rounds too
            self.assertIn(s, page)

    def test_v1_page_works_and_says_what_it_lacks(self):
        r = self.plot(fixture.make_run(1))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.check(), [])
        with open(os.path.join(self.dir, "index.html")) as f:
            page = f.read()
        self.assertIn("No calibration in this run (iomodels.run/1", page)
        self.assertIn("computed by the report", page)

    def test_unknown_schema_exits_2_naming_the_versions(self):
        run = fixture.make_run(2)
        run["schema"] = "iomodels.run/9"
        r = self.plot(run)
        self.assertEqual(r.returncode, 2)
        self.assertIn("iomodels.run/1 and iomodels.run/2", r.stderr)

    def test_checker_catches_network_missing_files_and_unmarked_flags(self):
        self.assertEqual(self.plot(fixture.make_run(2)).returncode, 0)
        path = os.path.join(self.dir, "index.html")
        with open(path) as f:
            page = f.read()
        page = page.replace("</body>", '<img src="https://cdn.example/x.png"><a href="nowhere.json">x</a>'
                                       '<a href="#no-such-id">y</a></body>')
        page = page.replace('class="degraded flagged"', 'class="degraded"', 1)
        page = page.replace('id="model-sel', 'id="xmodel-sel', 1)
        with open(path, "w") as f:
            f.write(page)
        problems = "\n".join(self.check())
        for want in ("needs the network", "nowhere.json", "no-such-id", "row is not marked",
                     "server select: no panel"):
            self.assertIn(want, problems)


class ComparePage(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="compare-test-")
        self.run = fixture.make_run(2)
        write_run(self.dir, self.run)
        cases = []
        for i, c in enumerate(self.run["cases"]):
            verdict = "regression" if i == 5 else "improvement" if i == 6 else "unchanged"
            ratio = 0.8 if verdict == "regression" else 1.2 if verdict == "improvement" else 1.0
            cases.append({"name": c["name"], "server": c["server"], "verdict": verdict,
                          "reason": "req/s -20% [-25%, -15%]" if verdict == "regression" else "",
                          "metrics": {"requests_per_s": {"ratio": ratio, "lo": ratio - 0.05, "hi": ratio + 0.05,
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
