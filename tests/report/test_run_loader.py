#!/usr/bin/python3
"""The one run loader (plots/iomodels_plots/run_loader.py), the one server
list reader (iomodels_plots/server_list.py) and the shape of plots/: the
package iomodels_plots, whose modules import each other relatively, and one
thin entry script per program beside it that parses its command line with
argparse; no module anywhere edits the import path (sys.path).
Run from the top of the tree (CTest report_unit does):
  PYTHONPATH=plots:tests/e2e /usr/bin/python3 -m unittest discover -s tests/report"""
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import fixture
from iomodels_plots import run_loader
from iomodels_plots.server_list import Servers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PLOTS = os.path.join(ROOT, "plots")
PACKAGE = os.path.join(PLOTS, "iomodels_plots")
PY = "/usr/bin/python3"


def without_case_fields(run):
    """The run as a harness wrote it before case records carried case_id and variant."""
    old = copy.deepcopy(run)
    for c in old["cases"]:
        c.pop("case_id", None)
        c.pop("variant", None)
    return old


class Loader(unittest.TestCase):
    def test_case_id_and_variant_derived_for_a_run_without_them(self):
        run = fixture.make_run()
        base = run["cases"][0]
        named = {"io_uring[--setup plain]/echo/c16/s64": ("io_uring", "--setup plain", "echo/c16/s64"),
                 "epoll_lt[A/A]/echo/c1/s64": ("epoll_lt", "A/A", "echo/c1/s64"),
                 "epoll_lt[aa]/echo/c1/s64/r10000": ("epoll_lt", "aa", "echo/c1/s64/r10000"),
                 "select/http/c64/s64": ("select", "", "http/c64/s64")}
        run["cases"] = []
        for name, (server, _, _) in named.items():
            c = copy.deepcopy(base)
            c.update(name=name, server=server)
            run["cases"].append(c)
        loaded = run_loader.checked(without_case_fields(run))
        self.assertEqual({c["name"]: (c["server"], c["variant"], c["case_id"]) for c in loaded["cases"]}, named)
        rows = [run_loader.row_of(c) for c in loaded["cases"]]
        self.assertEqual(rows, ["io_uring[--setup plain]", "epoll_lt[A/A]", "epoll_lt[aa]", "select"])
        # harness ab's fixed-load tier prefixes the name only.
        self.assertEqual(run_loader.derive_case_fields({"name": "fixed-load/epoll_lt/echo/c16/s64/r25000",
                                                        "server": "epoll_lt"}), ("", "echo/c16/s64/r25000"))

    def test_a_record_whose_fields_disagree_with_its_name_is_refused(self):
        run = fixture.make_run()
        run["cases"][2]["case_id"] = "echo/c9/s64"
        with self.assertRaisesRegex(run_loader.RunError, r"cases/2: name .* says variant '' and case"):
            run_loader.checked(run, "fixture")

    def test_a_name_that_does_not_start_with_its_server_is_refused(self):
        run = without_case_fields(fixture.make_run())
        run["cases"][0]["server"] = "poll"
        with self.assertRaisesRegex(run_loader.RunError, r"its name is not \"poll\[variant\]/case\""):
            run_loader.checked(run)

    def test_schema_errors_name_the_file_and_the_place(self):
        run = fixture.make_run()
        del run["cases"][1]["aggregate"]
        with self.assertRaisesRegex(run_loader.RunError,
                                    r"^fixture: does not match results/schema/run.schema.json at cases/1: "
                                    r"'aggregate' is a required property"):
            run_loader.checked(run, "fixture")

    def test_a_round_without_a_usable_cpu_window_says_so_instead_of_a_figure(self):
        run = fixture.make_run()
        cpu = run["cases"][0]["repetitions"][0]["server_cpu"]
        for k in ("ns_per_request", "us_per_request", "tick_us_per_request"):
            cpu.pop(k, None)
        with self.assertRaisesRegex(run_loader.RunError, r"server_cpu"):
            run_loader.checked(copy.deepcopy(run), "fixture")  # neither a figure nor why not
        cpu["unusable"] = "the harness sampled the server's CPU over 300 us of the 400000 us window"
        run_loader.checked(copy.deepcopy(run), "fixture")
        cpu["ns_per_request"] = 0.0
        cpu["us_per_request"] = 0.0
        with self.assertRaisesRegex(run_loader.RunError, r"server_cpu"):
            run_loader.checked(run, "fixture")  # a figure and 'unusable' at once

    def test_the_committed_baselines_load(self):
        runs = glob.glob(os.path.join(ROOT, "results", "baselines", "*", "*", "run.json"))
        self.assertTrue(runs)
        for path in runs:
            run = run_loader.load_run(path)
            variants = {c["variant"] for c in run["cases"]}
            self.assertIn("", variants)
            self.assertTrue(variants - {""}, f"{path}: no variant rows (io_uring --setup, libuv --try-write)")
            for c in run["cases"]:
                self.assertEqual(run_loader.row_of(c) + "/" + c["case_id"], c["name"])

    def test_metric_names_are_the_schemas(self):
        with open(run_loader.RUN_SCHEMA) as f:
            case = json.load(f)["$defs"]["case"]
        aggregate = case["properties"]["aggregate"]["required"]
        summary = case["properties"]["repetitions"]["items"]["properties"]["loadgen"]["properties"]["summary"]
        for name in (run_loader.THROUGHPUT, run_loader.P99, run_loader.SERVER_CPU):
            self.assertIn(name, aggregate)
        self.assertIn(run_loader.THROUGHPUT, summary["required"])

    def test_metric_accessors(self):
        c = run_loader.checked(fixture.make_run())["cases"][0]
        agg, t = c["aggregate"], run_loader.THROUGHPUT
        self.assertEqual(run_loader.median(c), agg[t]["median"])
        self.assertEqual(run_loader.spread(c), (agg[t]["min"], agg[t]["max"]))
        self.assertEqual(run_loader.round_value(c["repetitions"][1]), c["repetitions"][1]["loadgen"]["summary"][t])
        self.assertEqual(run_loader.round_value(c["repetitions"][0], run_loader.SERVER_CPU),
                         c["repetitions"][0]["server_cpu"]["us_per_request"])
        p = run_loader.paired(c, run_loader.P99)
        self.assertEqual((p["median"], p["confidence"]), (1.0, 0.95))
        self.assertIsNone(run_loader.paired(c, "no_such_metric"))


class ServerList(unittest.TestCase):
    ENTRIES = [{"name": "io_uring", "family": "completion", "color": "#204080"},
               {"name": "select", "family": "readiness", "color": "#c03020"},
               {"name": "blocking_threads", "family": "threads", "color": "#00a000"}]

    def test_one_class_for_both_orders_and_colours(self):
        s = Servers(self.ENTRIES)
        self.assertEqual(s.list_order(["select", "blocking_threads", "io_uring"]),
                         ["io_uring", "select", "blocking_threads"])
        self.assertEqual(s.order(["select", "blocking_threads", "io_uring[--setup plain]", "io_uring"]),
                         ["blocking_threads", "select", "io_uring", "io_uring[--setup plain]"])
        self.assertEqual(s.colour("select"), "#c03020")
        self.assertEqual(s.colour("io_uring[--setup plain]"), "#8495b9")  # the server's hue, paler
        self.assertEqual(s.family("io_uring[--setup plain]"), "completion")
        self.assertRegex(Servers([]).colour("nginx"), r"^#[0-9a-f]{6}$")  # unlisted: stable hash colour

    def test_wan_plot_draws_each_model_in_its_list_colour(self):
        d = tempfile.mkdtemp(prefix="wan-test-")
        try:
            run = fixture.make_run()
            run["cases"] = [c for c in run["cases"] if c["case_id"] in ("echo/c1/s64", "echo/c64/s64")]
            run["context"]["link_params"] = {"rtt_ms": 10.0, "loss_pct": 0.0}
            os.makedirs(os.path.join(d, "run"))
            with open(os.path.join(d, "run", "run.json"), "w") as f:
                json.dump(run, f)
            entries = [{"name": m, "family": "readiness", "color": f"#1{i}2{i}3{i}"}
                       for i, m in enumerate(fixture.MODELS)]
            with open(os.path.join(d, "run", "servers.json"), "w") as f:
                json.dump(entries, f)
            r = subprocess.run([PY, os.path.join(PLOTS, "wan.py"), os.path.join(d, "out"), os.path.join(d, "run")],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(d, "out", "throughput_vs_rtt.svg")) as f:
                svg = f.read()
            missing = [f"{e['name']} {e['color']}" for e in entries if e["color"] not in svg]
            self.assertEqual(missing, [], "models not drawn in their list colour")
        finally:
            shutil.rmtree(d)


def text_of(path):
    with open(path) as f:
        return f.read()


class Scripts(unittest.TestCase):
    """plots/ is the package iomodels_plots/ plus one thin script per program
    beside it (plots/NAME.py runs iomodels_plots/NAME.py's main)."""

    def entries(self):
        return sorted(glob.glob(os.path.join(PLOTS, "*.py")))

    def package(self):
        return sorted(glob.glob(os.path.join(PACKAGE, "*.py")))

    def test_every_entry_point_is_thin_takes_help_and_refuses_a_bad_option(self):
        entries = self.entries()
        self.assertGreaterEqual(len(entries), 6)
        for p in entries:
            name = os.path.basename(p)[:-3]
            text = text_of(p)
            # The whole program is in the package: the script imports its main and nothing else of ours.
            self.assertEqual(re.findall(r"^from (\S+) import (.*)$", text, re.M), [(f"iomodels_plots.{name}", "main")],
                             f"{p} is not a thin entry of iomodels_plots/{name}.py")
            self.assertIn("argparse.ArgumentParser", text_of(os.path.join(PACKAGE, f"{name}.py")),
                          f"iomodels_plots/{name}.py parses sys.argv by hand")
            r = subprocess.run([PY, p, "--help"], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, f"{p} --help: {r.stderr}")
            self.assertIn("usage:", r.stdout)
            r = subprocess.run([PY, p, "--no-such-option"], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, f"{p} --no-such-option: {r.stdout}{r.stderr}")

    def test_every_program_of_the_package_has_its_entry_script(self):
        mains = {os.path.basename(p)[:-3] for p in self.package() if re.search(r"^def main\(", text_of(p), re.M)}
        self.assertEqual(mains, {os.path.basename(p)[:-3] for p in self.entries()})

    def test_the_package_imports_itself_relatively(self):
        names = "|".join(os.path.basename(p)[:-3] for p in self.package())
        absolute = [f"{os.path.basename(p)}: {m}" for p in self.package()
                    for m in re.findall(rf"^\s*(?:from|import) (?:iomodels_plots\.)?(?:{names})\b.*$", text_of(p), re.M)]
        self.assertEqual(absolute, [], "package modules importing each other by a top-level name")

    def test_no_sys_path_edits_one_servers_class_and_one_speller_of_the_throughput_field(self):
        sources = []
        for top in ("plots", "lab", "tests", "harness"):
            sources += glob.glob(os.path.join(ROOT, top, "**", "*.py"), recursive=True)
        self.assertGreater(len(sources), 40)
        edits = [os.path.relpath(p, ROOT) for p in sources if re.search(r"sys\.path\s*(\.|\[|=)", text_of(p))]
        self.assertEqual(edits, [], "modules that edit sys.path")
        # The field names are the run loader's: everyone else asks its accessors (loadgen_throughput, ...).
        spelled = [os.path.relpath(p, ROOT) for p in sources if run_loader.THROUGHPUT in text_of(p)]
        self.assertEqual(spelled, ["plots/iomodels_plots/run_loader.py"], f"files that spell {run_loader.THROUGHPUT}")
        classes = [p for p in sources if re.search(r"^class Servers\b", text_of(p), re.M)]
        self.assertEqual([os.path.relpath(p, PLOTS) for p in classes], ["iomodels_plots/server_list.py"])


if __name__ == "__main__":
    unittest.main()
