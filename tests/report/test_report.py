#!/usr/bin/python3
"""Unit tests of the report generator (plots/) on the synthetic fixture:
the rules, the page checker, and the compare page. Run from the top of the
tree (CTest report_unit does):
  PYTHONPATH=plots:tests/e2e /usr/bin/python3 -m unittest discover -s tests/report"""
import copy
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import check_report
import fixture
from iomodels_plots import report_data, report_flags, report_rules, report_summary, run_loader
from iomodels_plots.run_loader import P99, SERVER_CPU, THROUGHPUT
from iomodels_plots.server_list import Servers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

PY = "/usr/bin/python3"


def write_run(d, run):
    with open(os.path.join(d, "run.json"), "w") as f:
        json.dump(run, f)


def variant_of(case, variant, server_args=None, server=None):
    """A copy of `case` run as a variant: name, variant and server_args agree,
    as the harness writes them."""
    v = copy.deepcopy(case)
    v["server"] = server or case["server"]
    v["variant"], v["name"] = variant, f"{v['server']}[{variant}]/{case['case_id']}"
    if server_args is not None:
        v["server_args"] = server_args
    return v


class Rules(unittest.TestCase):
    def setUp(self):
        self.run = run_loader.checked(fixture.make_run())
        self.by = report_data.index_cases(self.run)
        self.servers = Servers([], "test")

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

    def test_paired_ratio_and_cost_only_from_the_harness(self):
        c = self.case("io_uring", "echo/c64/s64/p16")
        self.assertEqual(report_data.paired_ratio(c, self.by, P99)["median"], 1.0)
        del c["aggregate"]["paired_ratio"][P99]
        self.assertIsNone(report_data.paired_ratio(c, self.by, P99))  # never recomputed from the rounds
        cpm = report_data.cost_per_message(self.case("epoll_lt", "echo/c64/s64"))
        self.assertEqual(cpm["source"], "harness (window)")
        self.assertAlmostEqual(cpm["syscalls_total"], 2.5)
        del c["aggregate"]["cost_per_message"]
        self.assertIsNone(report_data.cost_per_message(c))  # never recomputed from the counters

    def summary(self, run=None):
        run = run_loader.checked(run or self.run)  # every case the test added is a valid record
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
        self.case("io_uring", "echo/c16/s64/r10000")["aggregate"]["paired_ratio"][SERVER_CPU].update(
            median=0.5, lo=0.45, hi=0.55, confidence=0.75)
        cell = self.summary()["cells"][("io_uring", "echo/c16/s64/r10000")]
        self.assertEqual(cell["column"]["kind"], "fixed_rate")
        self.assertAlmostEqual(cell["value"], 0.5)
        # A 75% interval (min-max of 3 rounds): direction shown, cell not coloured.
        self.assertEqual((cell["verdict"], cell["state"]), ("better", "hint"))

    def test_a_cell_is_coloured_only_on_a_95_percent_interval(self):
        pr = self.case("blocking_threads", "echo/c1/s64")["aggregate"]["paired_ratio"][THROUGHPUT]
        self.assertEqual(self.summary()["cells"][("blocking_threads", "echo/c1/s64")]["state"], "sig")
        pr["confidence"] = 0.75  # min-max of 3 rounds
        self.assertEqual(self.summary()["cells"][("blocking_threads", "echo/c1/s64")]["state"], "hint")

    def test_group_reference_and_cost_groups_as_cost_api_names_them(self):
        ref = variant_of(self.case("epoll_lt", "echo/c64/s64"), "ref io_uring_setup")
        ref["role"] = "group_reference"
        self.run["cases"].append(ref)
        idle = copy.deepcopy(self.case("io_uring", "echo/c16/s64/r10000"))
        idle["name"], idle["group"] = "io_uring/echo/c16/s64/i1000/r10000", "cost_idle"
        idle["case_id"] = "echo/c16/s64/i1000/r10000"
        idle["params"]["idle_connections"] = 1000
        self.run["cases"].append(idle)
        s = self.summary()
        self.assertNotIn("epoll_lt[ref io_uring_setup]", s["rows"])  # a reference copy, not a model
        self.assertIn("epoll_lt[ref io_uring_setup]", s["variant_rows"])
        self.assertEqual(s["cells"][("io_uring", "echo/c16/s64/i1000/r10000")]["column"]["scenario"], "fixed load")

    def test_client_limited_cell_is_grey_unless_a_clear_loss(self):
        self.assertEqual(self.summary()["cells"][("io_uring", "echo/c64/s64/p16")]["state"], "limited")
        self.case("io_uring", "echo/c64/s64/p16")["aggregate"]["paired_ratio"][THROUGHPUT].update(
            median=0.5, lo=0.45, hi=0.55)
        self.assertEqual(self.summary()["cells"][("io_uring", "echo/c64/s64/p16")]["state"], "sig")

    def test_aa_row_sets_the_noise_floor(self):
        for c in [c for c in self.run["cases"] if c["server"] == "epoll_lt"]:
            aa = variant_of(c, "A/A")
            aa["aa"] = True
            aa["aggregate"]["paired_ratio"] = {"reference": "epoll_lt", THROUGHPUT: fixture.ratio(1.12, 1.05, 1.2, 3)}
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
        c = self.case("io_uring", "echo/c64/s64")
        self.run["cases"].append(variant_of(c, "--setup defer", ["--setup", "defer"]))
        self.run["cases"].append(variant_of(c, "--setup plain", ["--setup", "plain"]))
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

    def test_idle_takeaway_compares_closed_loop_cases_only(self):
        # A fixed-rate idle case serves its rate (10k), far below the same model's
        # closed-loop c16: read against it, that is a loss the model never took.
        idle = copy.deepcopy(self.case("io_uring", "echo/c16/s64/r10000"))
        idle["aggregate"][THROUGHPUT]["median"] = 100.0  # far below any closed-loop case
        idle["name"], idle["group"] = "io_uring/echo/c16/s64/r10000/i1000", "cost_idle"
        idle["case_id"] = "echo/c16/s64/r10000/i1000"
        idle["params"]["idle_connections"] = 1000
        self.run["cases"].append(idle)
        self.by = report_data.index_cases(self.run)
        t = [s for s, _ in report_rules.takeaways(self.run, self.by)]
        self.assertIn("cost select 70%", t[2])

    def test_pipeline_takeaway_skips_variants_and_names_no_winner_inside_the_noise(self):
        pipe = next(c for c in self.run["cases"] if c["server"] == "io_uring" and "/p16" in c["name"])
        v = variant_of(pipe, "--try-write 0", ["--try-write", "0"], server="libuv")
        v["aggregate"]["paired_ratio"][THROUGHPUT].update(median=3.0, lo=2.9, hi=3.1)
        self.run["cases"].append(v)
        def pipe_sentence():
            t = report_rules.takeaways(self.run, report_data.index_cases(self.run), limit=9)
            return next(s for s, _ in t if s.startswith("Pipelining"))
        self.assertIn("io_uring served the most", pipe_sentence())  # the variant's 3.0x is not a model's figure
        pipe["aggregate"]["paired_ratio"][THROUGHPUT].update(lo=0.9)
        self.assertIn("no model served clearly more than epoll_lt", pipe_sentence())

    def test_takeaways_fall_back_to_other_rules(self):
        run = run_loader.checked(fixture.make_run())
        run["cases"] = [c for c in run["cases"] if report_data.scenario(c["params"]) == "concurrency"]
        t = report_rules.takeaways(run, report_data.index_cases(run))
        self.assertTrue(any("best throughput" in s for s, _ in t), t)
        self.assertFalse(any("Idle" in s for s, _ in t))

    def test_server_variants_are_rows_of_their_own(self):
        v = variant_of(self.case("io_uring", "echo/c64/s64"), "--setup plain", ["--setup", "plain"])
        v["aggregate"]["paired_ratio"][THROUGHPUT].update(median=0.5, lo=0.45, hi=0.55)
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
                c["aggregate"]["paired_ratio"][THROUGHPUT].update(median=2.0, lo=1.9, hi=2.1)
        best, _ = report_rules.best_worst("io_uring", self.run, self.by)
        self.assertNotIn("io_uring/echo/c16/s64/r10000", [c["name"] for c, _, _ in best])

    def test_flags_carry_reasons(self):
        f = dict(report_flags.flags(self.case("io_uring", "echo/c64/s64/p16")))
        self.assertIn("99%", f["client_limited"])
        f = dict(report_flags.flags(self.case("select", "http/c64/s64")))
        self.assertEqual(f["degraded"], "12 requests lost (timeout)")


class Fixture(unittest.TestCase):
    def test_fixture_is_valid_against_the_run_schema(self):
        # run_loader validates against results/schema/run.schema.json, or raises.
        run_loader.checked(fixture.make_run())
        run_loader.checked(fixture.add_cost_fields(fixture.make_run()))


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
        problems += check_report.check_run(p, run_loader.load_run(self.dir))
        return problems

    def test_v2_page_passes_the_checker(self):
        r = self.plot(fixture.make_run())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.check(), [])
        with open(os.path.join(self.dir, "index.html")) as f:
            page = f.read()
        for s in ("io_uring served the most", "summary_heatmap.png", "spectrum-case", "Calibration per round",
                  "3 rounds; interval: 95% confidence"):  # the summary states rounds and confidence too
            self.assertIn(s, page)

    def test_page_with_the_cost_issue_fields(self):
        run = fixture.add_cost_fields(fixture.make_run())
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
        s = report_summary.summary_cells(run, Servers([], "t"), report_data.index_cases(run_loader.checked(run)))
        self.assertEqual(s["cells"][("select", "echo/c64/s64")]["marks"], ["CS"])
        self.assertEqual(s["cells"][("select", "echo/c64/s64")]["state"], "limited")
        self.assertEqual(s["columns"][0]["scenario"], "fixed load")

    def test_unknown_schema_exits_2_naming_the_version_it_reads(self):
        for version in ("iomodels.run/9", "iomodels.run/1"):
            run = fixture.make_run()
            run["schema"] = version
            r = self.plot(run)
            self.assertEqual(r.returncode, 2)
            self.assertIn(f"is schema '{version}'; this reads iomodels.run/2 only", r.stderr)

    def test_a_run_off_the_schema_exits_2_naming_where(self):
        run = fixture.make_run()
        run["cases"][3]["params"]["connections"] = 0
        r = self.plot(run)
        self.assertEqual(r.returncode, 2)
        self.assertIn("does not match results/schema/run.schema.json at cases/3/params/connections", r.stderr)

    def test_checker_catches_network_missing_files_and_unmarked_flags(self):
        self.assertEqual(self.plot(fixture.make_run()).returncode, 0)
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
        run = run_loader.load_run(self.dir)
        next(c for c in run["cases"] if c["name"] == "blocking_threads/echo/c1/s64")[
            "aggregate"]["paired_ratio"][THROUGHPUT]["confidence"] = 0.75
        write_run(self.dir, run)
        problems = "\n".join(self.check())
        for want in ("needs the network", "nowhere.json", "no-such-id", "row is not marked",
                     "server select: no panel", "io_uring/echo/c16/s64: coloured, but 1.00 [0.95-1.05] is inside",
                     "select/http/c64/s64: mark D has no entry in the flag legend",
                     "blocking_threads/echo/c1/s64: coloured on an interval of 0.75 confidence"):
            self.assertIn(want, problems)


if __name__ == "__main__":
    unittest.main()
