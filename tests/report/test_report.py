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
import report_flags  # noqa: E402
import report_rules  # noqa: E402
import report_summary  # noqa: E402

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

    def summary(self, run=None):
        run = run or self.run
        return report_summary.summary_cells(run, self.servers, report_data.index_cases(run))

    def test_summary_cells_mark_flagged_cases(self):
        cells = self.summary()["cells"]
        self.assertEqual(cells[("select", "http/c64/s64")]["marks"], ["D"])
        self.assertIn("S", cells[("blocking_threads", "echo/c64/s64")]["marks"])
        self.assertIn("CL", cells[("io_uring", "echo/c64/s64/p16")]["marks"])
        self.assertEqual(cells[("blocking_threads", "echo/c16/s64/r10000")]["state"], "failed")
        self.assertEqual(cells[("epoll_lt", "echo/c16/s64/idle1000")]["marks"], [])

    def test_a_column_per_connection_count_and_cpu_per_message_at_a_fixed_rate(self):
        s = self.summary()
        labels = [c["label"] for c in s["columns"] if c["scenario"] == "concurrency"]
        self.assertEqual(labels, ["c1", "c16", "c64"])
        self.assertAlmostEqual(s["cells"][("blocking_threads", "echo/c1/s64")]["value"], 0.6)
        # Open loop: req/s is the offered rate by construction; the cell is CPU per message.
        for r in self.case("io_uring", "echo/c16/s64/r10000")["repetitions"]:
            r["server_cpu"]["us_per_request"] *= 0.5
        cell = self.summary()["cells"][("io_uring", "echo/c16/s64/r10000")]
        self.assertEqual(cell["column"]["kind"], "fixed_rate")
        self.assertAlmostEqual(cell["value"], 0.5)
        # Per-round ratios computed by the report carry no confidence: direction shown, cell not coloured.
        self.assertEqual((cell["verdict"], cell["state"]), ("better", "hint"))

    def test_a_cell_is_coloured_only_on_a_95_percent_interval(self):
        pr = self.case("blocking_threads", "echo/c1/s64")["aggregate"]["paired_ratio"]["requests_per_s"]
        self.assertEqual(self.summary()["cells"][("blocking_threads", "echo/c1/s64")]["state"], "sig")
        pr["confidence"] = 0.75  # min-max of 3 rounds
        self.assertEqual(self.summary()["cells"][("blocking_threads", "echo/c1/s64")]["state"], "hint")

    def test_group_reference_and_cost_groups_as_cost_api_names_them(self):
        import copy
        ref = copy.deepcopy(self.case("epoll_lt", "echo/c64/s64"))
        ref["name"], ref["role"] = "epoll_lt[ref io_uring_setup]/echo/c64/s64", "group_reference"
        self.run["cases"].append(ref)
        idle = copy.deepcopy(self.case("io_uring", "echo/c16/s64/r10000"))
        idle["name"], idle["group"] = "io_uring/echo/c16/s64/i1000/r10000", "cost_idle"
        idle["params"]["idle_connections"] = 1000
        self.run["cases"].append(idle)
        s = self.summary()
        self.assertNotIn("epoll_lt[ref io_uring_setup]", s["rows"])  # a reference copy, not a model
        self.assertIn("epoll_lt[ref io_uring_setup]", s["variant_rows"])
        self.assertEqual(s["cells"][("io_uring", "echo/c16/s64/i1000/r10000")]["column"]["scenario"], "fixed load")

    def test_client_limited_cell_is_grey_unless_a_clear_loss(self):
        self.assertEqual(self.summary()["cells"][("io_uring", "echo/c64/s64/p16")]["state"], "limited")
        self.case("io_uring", "echo/c64/s64/p16")["aggregate"]["paired_ratio"]["requests_per_s"].update(
            median=0.5, lo=0.45, hi=0.55)
        self.assertEqual(self.summary()["cells"][("io_uring", "echo/c64/s64/p16")]["state"], "sig")

    def test_aa_row_sets_the_noise_floor(self):
        import copy
        for c in [c for c in self.run["cases"] if c["server"] == "epoll_lt"]:
            aa = copy.deepcopy(c)
            aa["name"], aa["aa"] = "epoll_lt[A/A]/" + c["name"].split("/", 1)[1], True
            aa["aggregate"]["paired_ratio"] = {"reference": "epoll_lt", "requests_per_s": {
                "median": 1.12, "lo": 1.05, "hi": 1.2, "n": 3, "confidence": 0.95}}
            self.run["cases"].append(aa)
        s = self.summary()
        self.assertTrue(s["has_aa"])
        self.assertEqual(s["rows"][:2], ["blocking_threads", "epoll_lt"] if s["rows"][0] == "blocking_threads"
                         else s["rows"][:2])
        self.assertEqual(s["rows"][s["rows"].index("epoll_lt") + 1], "epoll_lt[A/A]")
        self.assertEqual(s["cells"][("epoll_lt[A/A]", "echo/c1/s64")]["state"], "aa")
        # io_uring's 1.10x [1.04-1.16] excludes 1 but is inside the A/A row's 12%: not coloured.
        self.assertEqual(s["cells"][("io_uring", "echo/c64/s64")]["state"], "noise")
        # blocking_threads' 0.6x is far beyond it.
        self.assertEqual(s["cells"][("blocking_threads", "echo/c1/s64")]["state"], "sig")
        best, _ = report_rules.best_worst("io_uring", self.run, report_data.index_cases(self.run))
        self.assertNotIn("io_uring/echo/c64/s64", [c["name"] for c, _, _ in best])

    def test_saturated_reason_is_read_from_the_rounds(self):
        c = self.case("blocking_threads", "echo/c64/s64")
        c["repetitions"][1]["flags"].update(saturated=True, saturated_reason="2.2% of sends held back")
        why = dict(report_flags.flags(c))["saturated"]
        self.assertIn("1 of 3 round(s)", why)
        self.assertIn("round 1: 2.2% of sends held back", why)

    def test_loadgen_bound_rounds_split_into_client_limited_and_co_saturated(self):
        c = self.case("epoll_lt", "echo/c64/s64")
        c["flags"]["loadgen_bound"] = True
        for i, r in enumerate(c["repetitions"]):
            r["flags"]["loadgen_bound"] = True
            r["loadgen"]["summary"]["loadgen_thread_cpu_max"] = 0.97
            r["server_cpu"].update(window_s=1.0, cpu_ns=int((0.92 if i < 2 else 0.5) * 1e9))
        sat = report_flags.saturation(c)
        self.assertEqual((sat["co_saturated"], sat["client_limited"]), (2, 1))
        f = dict(report_flags.flags(c))
        self.assertIn("2 of 3 round(s)", f["co_saturated"])
        self.assertIn("97%", f["co_saturated"])

    def test_variant_with_default_arguments_is_labelled(self):
        import copy
        v = copy.deepcopy(self.case("io_uring", "echo/c64/s64"))
        v["name"], v["server_args"] = "io_uring[--setup defer]/echo/c64/s64", ["--setup", "defer"]
        self.run["cases"].append(v)
        w = copy.deepcopy(v)
        w["name"], w["server_args"] = "io_uring[--setup plain]/echo/c64/s64", ["--setup", "plain"]
        self.run["cases"].append(w)
        s = self.summary()
        self.assertEqual(s["labels"]["io_uring[--setup defer]"], "io_uring[--setup defer] (= default)")
        self.assertEqual(s["labels"]["io_uring[--setup plain]"], "io_uring[--setup plain]")
        self.assertNotIn("io_uring[--setup defer]", s["rows"])
        self.assertIn("io_uring[--setup defer]", s["variant_rows"])

    def test_takeaways_name_the_right_models(self):
        t = [s for s, _ in report_rules.takeaways(self.run, self.by)]
        self.assertEqual(len(t), 4)
        fixed, limit, idle, pipe = t
        self.assertIn("At a fixed 10,000 req/s", fixed)
        self.assertIn("1 of 24 closed-loop cases the loadgen was the limit", limit)
        self.assertIn("cost select 70%", idle)
        self.assertIn("io_uring served the most, 1.80×", pipe)
        self.assertIn("but the loadgen was the limit there", pipe)  # the caveat a limited case needs
        t = [s for s, _ in report_rules.takeaways(self.run, self.by, limit=5)]
        self.assertIn("blocking_threads", t[4])
        self.assertIn("20.0 µs", t[4])

    def test_pipeline_takeaway_skips_variants_and_names_no_winner_inside_the_noise(self):
        import copy
        pipe = next(c for c in self.run["cases"] if c["server"] == "io_uring" and "/p16" in c["name"])
        v = copy.deepcopy(pipe)
        v["name"], v["server_args"] = "libuv[--try-write 0]" + pipe["name"][len("io_uring"):], ["--try-write", "0"]
        v["server"] = "libuv"
        v["aggregate"]["paired_ratio"]["requests_per_s"].update(median=3.0, lo=2.9, hi=3.1)
        self.run["cases"].append(v)
        def pipe_sentence():
            t = report_rules.takeaways(self.run, report_data.index_cases(self.run), limit=9)
            return next(s for s, _ in t if s.startswith("Pipelining"))
        self.assertIn("io_uring served the most", pipe_sentence())  # the variant's 3.0x is not a model's figure
        pipe["aggregate"]["paired_ratio"]["requests_per_s"].update(lo=0.9)
        self.assertIn("no model served clearly more than epoll_lt", pipe_sentence())

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
        v["aggregate"]["paired_ratio"]["requests_per_s"].update(median=0.5, lo=0.45, hi=0.55)
        self.run["cases"].append(v)
        by = report_data.index_cases(self.run)
        self.assertIs(by[("io_uring", "echo/c64/s64")], self.case("io_uring", "echo/c64/s64"))
        self.assertIs(by[("io_uring[--setup plain]", "echo/c64/s64")], v)
        s = self.summary()
        self.assertIn("io_uring[--setup plain]", s["variant_rows"])
        self.assertNotIn("io_uring[--setup plain]", s["rows"])
        self.assertAlmostEqual(s["cells"][("io_uring[--setup plain]", "echo/c64/s64")]["value"], 0.5)
        worst = report_rules.best_worst("io_uring", self.run, by)[1]
        self.assertIn(v["name"], [c["name"] for c, _, _ in worst])
        # No takeaway names a variant as a model's figure (its syscalls here are the fewest of all).
        v["aggregate"]["cost_per_message"]["syscalls_total"] = 0.01
        said = " ".join(s for s, _ in report_rules.takeaways(self.run, by, limit=9))
        self.assertNotIn("[--setup plain]", said)

    def test_verdict_needs_the_whole_interval(self):
        self.assertEqual(report_rules.verdict(1.2, 1.05, 1.3), "better")
        self.assertEqual(report_rules.verdict(1.2, 0.95, 1.3), "same")
        self.assertEqual(report_rules.verdict(0.8, 0.7, 0.9), "worse")

    def test_best_and_worst_leave_out_the_client_limit_and_do_not_overlap(self):
        best, worst = report_rules.best_worst("io_uring", self.run, self.by)
        # p16's 1.8x is client-limited: a higher ratio there is the client's, not the server's.
        self.assertEqual([c["name"] for c, _, _ in best], ["io_uring/echo/c1/s64", "io_uring/echo/c64/s64"])
        self.assertFalse({c["name"] for c, _, _ in best} & {c["name"] for c, _, _ in worst})
        # A ratio fixed by construction (req/s at a fixed rate) is never listed; its CPU per message may be.
        for c in self.run["cases"]:
            if c["params"]["rate"] and c["server"] == "io_uring":
                c["aggregate"]["paired_ratio"]["requests_per_s"].update(median=2.0, lo=1.9, hi=2.1)
        best, _ = report_rules.best_worst("io_uring", self.run, self.by)
        self.assertNotIn("io_uring/echo/c16/s64/r10000", [c["name"] for c, _, _ in best])

    def test_flags_carry_reasons(self):
        f = dict(report_flags.flags(self.case("io_uring", "echo/c64/s64/p16")))
        self.assertIn("99%", f["client_limited"])
        f = dict(report_flags.flags(self.case("select", "http/c64/s64")))
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
                  "3 rounds; interval: 95% confidence"):  # the summary states rounds and confidence too
            self.assertIn(s, page)

    def test_page_with_the_cost_issue_fields(self):
        run = fixture.add_cost_fields(fixture.make_run(2))
        r = self.plot(run)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.check(), [])
        with open(os.path.join(self.dir, "index.html")) as f:
            page = f.read()
        for s in ('href="#model-epoll_lt">epoll_lt[A/A]</a>', "kernel's count",
                  "User-space instructions per message (callgrind, exact): echo/c1/s64 610",
                  '<th colspan="1" class="grp">fixed load: CPU/msg and p99 ÷ ref</th>',
                  "At a fixed 25,000 req/s", "io_uring used the least server CPU per message, 0.80×",
                  "A/A row: a second copy of epoll_lt"):
            self.assertIn(s, page)
        s = report_summary.summary_cells(run, report_data.Servers([], "t"), report_data.index_cases(run))
        self.assertEqual(s["cells"][("select", "echo/c64/s64")]["marks"], ["CS"])
        self.assertEqual(s["cells"][("select", "echo/c64/s64")]["state"], "limited")
        self.assertEqual(s["columns"][0]["scenario"], "fixed load")

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
        # A cell inside the noise given a colour, and a mark whose legend entry is gone.
        page = page.replace('<td class="noise" title="io_uring/echo/c16/s64:',
                            '<td class="noise" style="background-color:#2166ac" title="io_uring/echo/c16/s64:', 1)
        page = page.replace('data-legend="D"', 'data-legend="gone"', 1)
        with open(path, "w") as f:
            f.write(page)
        # A coloured cell whose interval, says run.json, is only 75%.
        with open(os.path.join(self.dir, "run.json")) as f:
            run = json.load(f)
        next(c for c in run["cases"] if c["name"] == "blocking_threads/echo/c1/s64")[
            "aggregate"]["paired_ratio"]["requests_per_s"]["confidence"] = 0.75
        write_run(self.dir, run)
        problems = "\n".join(self.check())
        for want in ("needs the network", "nowhere.json", "no-such-id", "row is not marked",
                     "server select: no panel", "io_uring/echo/c16/s64: coloured, but 1.00 [0.95-1.05] is inside",
                     "select/http/c64/s64: mark D has no entry in the flag legend",
                     "blocking_threads/echo/c1/s64: coloured on an interval of 0.75 confidence"):
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
