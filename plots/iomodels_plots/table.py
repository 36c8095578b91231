#!/usr/bin/python3
"""Print the tables of a results folder.

Headline: one row per case, medians over repetitions. It leads with the ratio
to the reference server paired by round (median of the per-round ratios, and
their min-max), because on a shared host the absolute figures of one round can
be 2-4x those of another; absolute req/s follow with their own min-max. Then
p50/p99 µs, server CPU µs/request (process CPU clock, ns precision), flags and
the status. Marks: * degraded (kept, not used by the regression gate), L
loadgen-bound, S saturated (open loop could not keep its rate), O a repetition
ran in an outlying host-calibration state, W the harness sampled the server
more than 10% of the window late (a starved harness: server figures unsure).

Cost per message: one row per model, for one case (by default the echo case
nearest 16 connections; --cost CASE_ID, or --cost all for every case): server
syscalls by name, wakeups, events, context switches and CPU µs per message
answered in the measured window.

Usage: plots/table.py RESULTS_DIR [--cost CASE_ID|all]
       plots/table.py --markdown BASELINE_DIR [--write README.md]   the README table (readme_table.py)
       plots/table.py --markdown --check README.md
Reads iomodels.run/2 (plots/iomodels_plots/run_loader.py checks it against the schema)."""
import argparse
import sys

from . import readme_table
from .run_loader import SERVER_CPU, P99, RunError, load_run, median, paired, row_of, spread


def fmt_ratio(r):
    if not r:
        return "-"
    return f"{r['median']:.2f}x [{r['min']:.2f}-{r['max']:.2f}]"


def flags_of(c):
    f = c.get("flags", {})
    s = ""
    s += "L" if f.get("loadgen_bound") else ""
    s += "S" if f.get("saturated") else ""
    s += "O" if f.get("outlier_rounds") else ""
    s += "W" if f.get("window_late") else ""
    return s


def headline(run):
    ref = "epoll_lt"
    print(f"{'case':40} {'x ' + ref + ' req/s':>20} {'req/s [min-max]':>24} {'p50 µs':>8} {'p99 µs':>8} "
          f"{'CPU µs/req':>10} {'x cpu':>6} {'lag p99':>8} {'flags':>5}  status")
    for c in run["cases"]:
        st = c["status"]
        if st in ("failed", "skipped") and not c.get("aggregate", {}).get("repetitions_used"):
            print(f"{c['name']:40} {st}: {c.get('reason', '')[:90]}")
            continue
        a = c.get("aggregate", {})
        med = lambda k: median(c, k) or 0  # noqa: E731
        lo, hi = spread(c) or (0, 0)
        cpu_ratio = paired(c, SERVER_CPU)
        lag = a.get("schedule_lag_us", {}).get("p99")
        cpu_x = f"{cpu_ratio['median']:.2f}" if cpu_ratio else "-"
        lag_s = f"{lag:.0f}" if lag is not None else "-"
        mark = {"ok": "ok", "degraded": "degraded*"}.get(st, st)
        absolute = f"{median(c) or 0:.0f} [{lo:.0f}-{hi:.0f}]"
        print(f"{c['name']:40} {fmt_ratio(paired(c)):>20} {absolute:>24} {med('p50_us'):8.0f} "
              f"{med(P99):8.0f} {med(SERVER_CPU):10.2f} "
              f"{cpu_x:>6} {lag_s:>8} {flags_of(c):>5}  {mark}")
        if st == "degraded":
            print(f"{'':40} * {c.get('reason', '')[:110]}")


def cost_line(cpm):
    sys_ = sorted(cpm.get("syscalls", {}).items(), key=lambda kv: -kv[1])
    parts = [f"{v:.2g} {k}" if v < 0.995 or v > 1.005 else f"1 {k}" for k, v in sys_ if v >= 0.005]
    return " + ".join(parts) if parts else "-"


def cost_table(run, which):
    ids = []
    for c in run["cases"]:
        if c.get("aggregate", {}).get("cost_per_message") and c["case_id"] not in ids:
            ids.append(c["case_id"])
    if not ids:
        print("\n(no cost per message: this run has no server_stats_window; old servers)")
        return
    if which == "all":
        chosen = ids
    elif which:
        chosen = [which] if which in ids else []
        if not chosen:
            print(f"\n--cost: no case '{which}' with costs (have: {', '.join(ids)})")
            return
    else:
        def distance(i):
            parts = i.split("/")
            conns = int(parts[1][1:]) if len(parts) > 1 and parts[1][1:].isdigit() else 0
            return (parts[0] != "echo", len(parts) > 3, abs(conns - 16))
        chosen = [min(ids, key=distance)]
    for cid in chosen:
        print(f"\ncost per message, {cid} (medians over repetitions; syscalls per message answered):")
        print(f"{'model':22} {'syscalls':>8} {'wakeups':>8} {'events':>8} {'ctx sw':>8} {'CPU µs':>7}  by name")
        for c in run["cases"]:
            if c["case_id"] != cid:
                continue
            label = row_of(c)  # io_uring[--setup plain] for a server_args variant
            cpm = c.get("aggregate", {}).get("cost_per_message")
            if not cpm:
                print(f"{label:22} {c['status']}")
                continue
            cs = cpm.get("context_switches")
            cs_s = f"{cs:.3f}" if cs is not None else "null"
            print(f"{label:22} {cpm.get('syscalls_total', 0):8.2f} {cpm.get('wakeups', 0):8.2f} "
                  f"{cpm.get('events', 0):8.2f} {cs_s:>8} "
                  f"{cpm.get('cpu_us', 0):7.2f}  {c['server']}: {cost_line(cpm)}")


def main(argv):
    ap = argparse.ArgumentParser(prog="table.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("results_dir", nargs="?", help="a results folder (or its run.json); with --markdown, the "
                                                   "baseline folder")
    ap.add_argument("--cost", metavar="CASE_ID|all", help="the cost-per-message table of this case, or of all")
    ap.add_argument("--markdown", action="store_true", help="the README's results table and notes instead")
    ap.add_argument("--write", metavar="README", help="with --markdown: replace the block in README")
    ap.add_argument("--check", metavar="README", help="with --markdown: exit 1 if README and its baseline disagree")
    a = ap.parse_args(argv[1:])
    try:
        if a.markdown:
            if a.check and not a.results_dir and not a.write:
                return readme_table.check(a.check)
            if a.results_dir and not a.check:
                return readme_table.show(a.results_dir, a.write)
            ap.error("--markdown takes BASELINE_DIR [--write README] or --check README")
        if not a.results_dir or a.write or a.check:
            ap.error("RESULTS_DIR is needed; --write and --check go with --markdown")
        run = load_run(a.results_dir)
    except RunError as e:
        print(f"table.py: {e}", file=sys.stderr)
        return 2
    headline(run)
    cost_table(run, a.cost)
    return 0

