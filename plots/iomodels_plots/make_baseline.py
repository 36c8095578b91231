#!/usr/bin/python3
"""Commit a run as the baseline of its machine class, and regenerate the
README's results table from it.

usage: plots/make_baseline.py RESULTS_DIR [--class NAME] [--name default] [--readme README.md] [--note TEXT]

Writes results/baselines/<class>/<name>/run.json (the run with its latency
histograms at 2 significant digits, without time series and stop-time stats),
servers.json (the list that made it), micro.json (the micro-benchmarks, when
the run has them) and context.json (CPU model, kernel,
commit, date, suite, where it came from). <class> defaults to the CPU model and
count, e.g. intel-xeon-processor-2cpu: figures from one class are not comparable
with another's. With --readme, rewrites that README's results table and notes
(plots/table.py --markdown) and its figures (plots/readme_figures.py) from the
new baseline."""
import argparse
import json
import os
import re
import shutil
import sys

from . import ROOT, readme_figures, readme_table
from .run_loader import RunError, load_run


def machine_class(ctx):
    model = re.sub(r"\((r|tm)\)", "", ctx.get("cpu_model", "unknown"), flags=re.I)
    model = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")
    return f"{model}-{ctx.get('cpus', '?')}cpu"


def coarsen(hist, digits=2):
    """The same histogram at `digits` significant digits (lower bucket edges
    rounded down): percentiles move by under 1%, the file shrinks ~10x."""
    merged = {}
    for value, count in hist.get("buckets", []):
        scale = 10 ** max(0, len(str(int(value))) - digits)
        key = (int(value) // scale) * scale
        merged[key] = merged.get(key, 0) + count
    hist["buckets"] = sorted([k, v] for k, v in merged.items())
    hist["significant_digits"] = min(digits, hist.get("significant_digits", digits))
    return hist


def slim(run):
    """Small enough to commit: per repetition, the servers' stop-time stats (the
    window deltas carry what matters; null, as the schema allows), the loadgen's
    time series and its per-kind histograms go; the latency histogram stays, at
    2 significant digits."""
    for c in run.get("cases", []):
        for r in c.get("repetitions", []):
            r["server_stats"] = None
            lg = r.get("loadgen", {})
            lg.pop("timeseries", None)
            lg.pop("histograms", None)
            if isinstance(lg.get("histogram"), dict):
                coarsen(lg["histogram"])
    return run


def main(argv):
    ap = argparse.ArgumentParser(prog="make_baseline.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("results_dir", help="the run to commit (its run.json, servers.json, micro.json)")
    ap.add_argument("--class", dest="machine_class", help="the machine class (default: from the CPU model and count)")
    ap.add_argument("--name", default="default", help="the baseline's name inside its class (default: default)")
    ap.add_argument("--readme", help="rewrite this README's results table, notes and figures from the new baseline")
    ap.add_argument("--note", default="", help="a line for context.json")
    a = ap.parse_args(argv[1:])  # bad usage: exit 2 with the usage line
    src = a.results_dir
    try:
        run = load_run(src)
    except RunError as e:
        print(f"make_baseline.py: {e}", file=sys.stderr)
        return 2
    ctx = run.get("context", {})
    cls = a.machine_class or machine_class(ctx)
    rel = os.path.join("results", "baselines", cls, a.name)
    out = os.path.join(ROOT, rel)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "run.json"), "w") as f:
        json.dump(slim(run), f, separators=(",", ":"))
        f.write("\n")
    shutil.copyfile(os.path.join(src, "servers.json"), os.path.join(out, "servers.json"))
    # The micro-benchmarks too: the README's readiness-cost figure is drawn from them.
    if os.path.exists(os.path.join(src, "micro.json")):
        shutil.copyfile(os.path.join(src, "micro.json"), os.path.join(out, "micro.json"))
    else:
        print("make_baseline.py: no micro.json in the run: the README's readiness-cost figure keeps the "
              "baseline's old one", file=sys.stderr)
    context = {"machine_class": cls, "cpu_model": ctx.get("cpu_model"), "cpus": ctx.get("cpus"),
               "kernel": ctx.get("kernel"), "commit": ctx.get("git_sha"), "date": ctx.get("date"),
               "suite": run.get("suite", {}).get("name"), "from": os.path.abspath(src), "note": a.note}
    with open(os.path.join(out, "context.json"), "w") as f:
        json.dump(context, f, indent=1)
        f.write("\n")
    print(f"make_baseline.py: wrote {rel}/ (run.json {os.path.getsize(os.path.join(out, 'run.json')) // 1024} KiB)")
    if a.readme:
        img = os.path.join(os.path.dirname(os.path.abspath(a.readme)), "docs", "img")
        for n in readme_figures.draw(out, img):
            print(f"make_baseline.py: {os.path.join(img, n)}")
        return readme_table.show(out, a.readme)
    return 0

