#!/usr/bin/python3
"""The README's figures, drawn from a committed baseline and nothing else.

usage: plots/readme_figures.py BASELINE_DIR OUT_DIR     draw them into OUT_DIR
       plots/readme_figures.py --check README.md        exit 1 if any README figure differs

The baseline folder (run.json, servers.json, micro.json) is the one the
README's results-table marker names. Each figure the README shows as
docs/img/NAME.png is drawn by the same code as the report's (plots/plot.py);
--check draws them again into a temporary folder and compares them with the
committed files byte for byte (matplotlib's PNGs carry no date), so a README
figure that no longer follows from the baseline, or from the plotting code,
fails the CTest readme_figures. Regenerate with
  plots/readme_figures.py BASELINE_DIR docs/img"""
import argparse
import os
import re
import shutil
import sys
import tempfile

from . import readme_table
from .report_data import index_cases
from .report_figures import fig_cost, fig_micro, fig_throughput
from .report_heatmap import fig_summary
from .report_summary import summary_cells
from .run_loader import load_run
from .server_list import load_servers

IMG = re.compile(r"!\[[^\]]*\]\((docs/img/[\w.-]+\.png)\)")


def draw(baseline, out):
    """Draws every README figure of `baseline` into `out`; returns the PNG names."""
    work = tempfile.mkdtemp(prefix="readme-figures-")
    try:
        for f in ("run.json", "servers.json", "micro.json"):
            if os.path.exists(os.path.join(baseline, f)):
                shutil.copyfile(os.path.join(baseline, f), os.path.join(work, f))
        run, servers = load_run(work), load_servers(work)
        by_id = index_cases(run)
        ctx = run["context"]
        title = f"suite {run['suite'].get('name')}, {ctx.get('date', '?')[:10]}, commit {ctx.get('git_sha', '?')}"
        figs = [fig_summary(summary_cells(run, servers, by_id), work, f"Each model ÷ epoll_lt, paired per round — "
                                                                        f"{title}")]
        figs += [f(run, servers, by_id, work) for f in (fig_throughput, fig_cost, fig_micro)]
        names = []
        for fig in figs:
            if fig:
                shutil.copyfile(os.path.join(work, fig.stem + ".png"), os.path.join(out, fig.stem + ".png"))
                names.append(fig.stem + ".png")
        return names
    finally:
        shutil.rmtree(work)


def check(readme):
    text = open(readme).read()
    m = readme_table.BEGIN_RE.search(text)
    if not m:
        print(f"{readme}: no results-table marker naming the baseline", file=sys.stderr)
        return 1
    root = os.path.dirname(os.path.abspath(readme))
    baseline = os.path.join(root, m.group(1))
    wanted = IMG.findall(text)
    tmp = tempfile.mkdtemp(prefix="readme-figures-check-")
    bad = 0
    try:
        drawn = set(draw(baseline, tmp))
        for rel in wanted:
            name = os.path.basename(rel)
            if name not in drawn:
                print(f"{readme}: {rel} is not drawn from {m.group(1)} (drawn: {', '.join(sorted(drawn))})",
                      file=sys.stderr)
                bad += 1
                continue
            with open(os.path.join(root, rel), "rb") as a, open(os.path.join(tmp, name), "rb") as b:
                if a.read() != b.read():
                    print(f"{readme}: {rel} differs from the one drawn from {m.group(1)}; regenerate with\n"
                          f"  plots/readme_figures.py {m.group(1)} docs/img", file=sys.stderr)
                    bad += 1
    finally:
        shutil.rmtree(tmp)
    if not wanted:
        print(f"{readme}: shows no docs/img figure", file=sys.stderr)
        return 1
    print(f"{readme}: {len(wanted) - bad} of {len(wanted)} figure(s) follow from {m.group(1)}")
    return 1 if bad else 0


def main(argv):
    ap = argparse.ArgumentParser(prog="readme_figures.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--check", metavar="README", help="exit 1 if any figure README shows differs from its baseline's")
    ap.add_argument("dirs", nargs="*", metavar="BASELINE_DIR OUT_DIR", help="draw BASELINE_DIR's figures into OUT_DIR")
    a = ap.parse_args(argv[1:])  # bad usage: exit 2 with the usage line
    if a.check and not a.dirs:
        return check(a.check)
    if len(a.dirs) != 2 or a.check:
        ap.error("give BASELINE_DIR OUT_DIR, or --check README.md")
    os.makedirs(a.dirs[1], exist_ok=True)
    for n in draw(*a.dirs):
        print(f"readme_figures.py: {os.path.join(a.dirs[1], n)}")
    return 0

