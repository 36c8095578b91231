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
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import readme_table  # noqa: E402

ROOT = readme_table.ROOT


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
    window deltas carry what matters), the loadgen's time series and its
    per-kind histograms go; the latency histogram stays, at 2 significant digits."""
    for c in run.get("cases", []):
        for r in c.get("repetitions", []):
            r.pop("server_stats", None)
            lg = r.get("loadgen", {})
            lg.pop("timeseries", None)
            lg.pop("histograms", None)
            if isinstance(lg.get("histogram"), dict):
                coarsen(lg["histogram"])
    return run


def main(argv):
    args = argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    src, opts = args[0], {"--class": None, "--name": "default", "--readme": None, "--note": ""}
    rest = args[1:]
    while rest:
        if rest[0] not in opts or len(rest) < 2:
            print(f"make_baseline.py: unknown or incomplete option {rest[0]!r}", file=sys.stderr)
            return 2
        opts[rest[0]] = rest[1]
        rest = rest[2:]
    with open(os.path.join(src, "run.json")) as f:
        run = json.load(f)
    ctx = run.get("context", {})
    cls = opts["--class"] or machine_class(ctx)
    rel = os.path.join("results", "baselines", cls, opts["--name"])
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
               "suite": run.get("suite", {}).get("name"), "from": os.path.abspath(src), "note": opts["--note"]}
    with open(os.path.join(out, "context.json"), "w") as f:
        json.dump(context, f, indent=1)
        f.write("\n")
    print(f"make_baseline.py: wrote {rel}/ (run.json {os.path.getsize(os.path.join(out, 'run.json')) // 1024} KiB)")
    if opts["--readme"]:
        import readme_figures
        img = os.path.join(os.path.dirname(os.path.abspath(opts["--readme"])), "docs", "img")
        for n in readme_figures.draw(out, img):
            print(f"make_baseline.py: {os.path.join(img, n)}")
        return readme_table.main([rel, "--write", opts["--readme"]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
