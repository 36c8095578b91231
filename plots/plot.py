#!/usr/bin/python3
"""Figures and index.html from a harness results folder.

usage: /usr/bin/python3 plots/plot.py RESULTS_DIR

Reads RESULTS_DIR/run.json (and micro.json when present), writes one PNG and
one SVG per figure plus index.html with the figures and a table of the
aggregates. A figure whose data is absent is skipped, never drawn empty.
Use Debian's python3 (/usr/bin/python3): a pyenv python3 may lack matplotlib.
"""
import html
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_list  # noqa: E402

try:
    import matplotlib
    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter
except ImportError:
    print("plot.py: matplotlib is missing: install python3-matplotlib "
          "(and run this with /usr/bin/python3)", file=sys.stderr)
    sys.exit(2)

# Order, family and colour of every model come from the one server list
# (servers/CMakeLists.txt -> build/servers.json, see server_list.py), so a model
# keeps its colour in every figure and in every run, whichever subset ran.
SERVERS = None  # server_list.Servers, loaded in main()
MARKERS = "osD^v<>phH*Xd8P+"


def colour(model):
    return SERVERS.colour(model)


def marker(model):
    return MARKERS[SERVERS.index(model) % len(MARKERS)]


def model_order(models):
    return SERVERS.order(models)


def ok_cases(run):
    return [c for c in run["cases"] if c.get("status") == "ok" and c.get("repetitions")]


def med(case, key):
    return case["aggregate"][key]["median"]


def is_plain(p):
    """Closed loop, no churn, no idle connections: the baseline shape of a case."""
    return (p.get("rate", 0) == 0 and p.get("requests_per_connection", 0) == 0
            and p.get("idle_connections", 0) == 0 and p.get("server_threads", 0) == 0)


def case_id(c):
    return c["name"].split("/", 1)[1]


def save(fig, out, stem, figures, title, note=""):
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out, f"{stem}.{ext}"), dpi=110)
    plt.close(fig)
    figures.append((stem, title, note))


def legend(ax):
    # Outside the axes: with fifteen models any spot inside hides a curve.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def fig_throughput(cases, out, figures):
    sel = [c for c in cases if is_plain(c["params"]) and c["params"]["protocol"] == "echo"
           and c["params"]["size"] == "64" and c["params"]["pipeline"] == 1]
    if len({c["params"]["connections"] for c in sel}) < 2:
        return
    fig, ax = plt.subplots(figsize=(9.5, 5))
    for m in model_order({c["server"] for c in sel}):
        pts = sorted((c["params"]["connections"], c) for c in sel if c["server"] == m)
        xs = [x for x, _ in pts]
        ys = [med(c, "requests_per_s") for _, c in pts]
        lo = [y - c["aggregate"]["requests_per_s"]["min"] for y, (_, c) in zip(ys, pts)]
        hi = [c["aggregate"]["requests_per_s"]["max"] - y for y, (_, c) in zip(ys, pts)]
        ax.errorbar(xs, ys, yerr=[lo, hi], label=m, color=colour(m), marker=marker(m), capsize=2)
    ax.set_xscale("log")
    conns = sorted({c["params"]["connections"] for c in sel})
    ax.xaxis.set_major_locator(FixedLocator(conns))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: ""))
    ax.set_xlabel("concurrent connections (log)")
    ax.set_ylabel("throughput (requests/s, median; bars: min-max)")
    ax.set_title("Echo 64 B, closed loop: throughput vs connections")
    ax.grid(True, which="both", alpha=0.3)
    legend(ax)
    save(fig, out, "throughput_vs_connections", figures, "Throughput vs connections")


def percentiles_from_buckets(buckets, ps):
    """Value at each percentile of a merged (value_ns, count) bucket list."""
    buckets = sorted(buckets)
    total = sum(n for _, n in buckets)
    if total == 0:
        return []
    out, i, seen = [], 0, 0
    for p in ps:
        rank = p / 100.0 * total
        while i < len(buckets) - 1 and seen + buckets[i][1] < rank:
            seen += buckets[i][1]
            i += 1
        out.append(buckets[i][0])
    return out


def headline_id(cases):
    """The case the per-model figures use: echo 64 B at 64 connections when it
    ran, else the plain case that the most models ran."""
    ids = {}
    for c in cases:
        if is_plain(c["params"]):
            ids.setdefault(case_id(c), set()).add(c["server"])
    if not ids:
        return None
    return "echo/c64/s64" if "echo/c64/s64" in ids else max(ids, key=lambda k: (len(ids[k]), k))


def fig_spectrum(cases, out, figures):
    hid = headline_id(cases)
    if not hid:
        return
    sel = [c for c in cases if case_id(c) == hid]
    # 1/(1-p) from 1 to 10^6 in even log steps: p = 0, ..., 99.9999%.
    ps = [100 * (1 - 10 ** (-k / 8)) for k in range(0, 49)]
    fig, ax = plt.subplots(figsize=(9.5, 5))
    drawn = False
    for m in model_order({c["server"] for c in sel}):
        c = next(c for c in sel if c["server"] == m)
        merged = {}
        for rep in c["repetitions"]:
            h = rep["loadgen"].get("histogram", {})
            scale = 1e-3 if h.get("unit", "ns") == "ns" else 1.0
            for v, n in h.get("buckets", []):
                merged[v * scale] = merged.get(v * scale, 0) + n
        total = sum(merged.values())
        if total == 0:
            continue
        # Percentiles beyond what the sample can resolve are not drawn.
        usable = [p for p in ps if 1 / (1 - p / 100) <= total]
        vals = percentiles_from_buckets(list(merged.items()), usable)
        xs = [1 / (1 - p / 100) for p in usable]
        ax.plot(xs, vals, label=m, color=colour(m), marker=marker(m), markersize=3, markevery=8)
        drawn = True
    if not drawn:
        plt.close(fig)
        return
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [1, 2, 10, 100, 1000, 10000, 100000, 1000000]
    labels = ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: labels[ticks.index(x)] if x in ticks else ""))
    ax.set_xlabel("percentile (x = 1/(1-p), log)")
    ax.set_ylabel("latency (µs, log)")
    ax.set_title(f"Latency percentile spectrum, {hid} (all repetitions merged)")
    ax.grid(True, which="both", alpha=0.3)
    legend(ax)
    save(fig, out, "latency_spectrum", figures, "Latency percentile spectrum",
         f"case {hid}; histograms of all repetitions merged, never averaged")


def fig_open_loop(cases, out, figures):
    sel = [c for c in cases if c["params"].get("rate", 0) > 0]
    if not sel:
        return
    fig, ax = plt.subplots(figsize=(9.5, 5))
    for m in model_order({c["server"] for c in sel}):
        pts = sorted((c["params"]["rate"], med(c, "p99_us")) for c in sel if c["server"] == m)
        ax.plot([x for x, _ in pts], [y for _, y in pts], label=m, color=colour(m), marker=marker(m))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (requests/s, log)")
    ax.set_ylabel("p99 latency (µs, log; from intended send time)")
    ax.set_title("Open loop: p99 vs offered rate")
    ax.grid(True, which="both", alpha=0.3)
    legend(ax)
    save(fig, out, "p99_vs_rate", figures, "p99 vs offered rate (open loop)")


def bars(ax, models, values, ylabel):
    xs = range(len(models))
    rects = ax.bar(xs, values, color=[colour(m) for m in models])
    # Values on the bars: one slow model can flatten the rest to slivers.
    ax.bar_label(rects, labels=[f"{v:.3g}" for v in values], fontsize=7)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(models, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)


def fig_cpu(cases, out, figures):
    hid = headline_id(cases)
    sel = [c for c in cases if hid and case_id(c) == hid and med(c, "server_cpu_us_per_request") > 0]
    if not sel:
        return
    models = model_order({c["server"] for c in sel})
    vals = [med(next(c for c in sel if c["server"] == m), "server_cpu_us_per_request") for m in models]
    fig, ax = plt.subplots(figsize=(9.5, 5))
    bars(ax, models, vals, "server CPU per request (µs, user+sys, median)")
    ax.set_title(f"Server CPU cost per request, {hid}")
    save(fig, out, "server_cpu_per_request", figures, "Server CPU per request",
         "from /proc/PID/stat over the measured window; clock-tick resolution (10 ms)")


def fig_c10k(cases, out, figures):
    idle = [c for c in cases if c["params"].get("idle_connections", 0) > 0]
    if not idle:
        return
    base = {}
    for c in cases:
        p = c["params"]
        if p.get("idle_connections", 0) == 0 and p.get("rate", 0) == 0:
            base[(c["server"], p["protocol"], p["connections"], p["size"], p["pipeline"])] = c
    models = model_order({c["server"] for c in idle})
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    width = 0.4
    for ax, key, label in ((axes[0], "requests_per_s", "throughput (requests/s, median)"),
                           (axes[1], "server_cpu_us_per_request", "server CPU per request (µs, median)")):
        for i, m in enumerate(models):
            c = next(c for c in idle if c["server"] == m)
            p = c["params"]
            b = base.get((m, p["protocol"], p["connections"], p["size"], p["pipeline"]))
            if b:
                ax.bar(i - width / 2, med(b, key), width, color=colour(m), alpha=0.45, hatch="//")
            ax.bar(i + width / 2, med(c, key), width, color=colour(m))
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(models, rotation=40, ha="right", fontsize=8)
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
    n_idle = idle[0]["params"]["idle_connections"]
    n_act = idle[0]["params"]["connections"]
    axes[0].set_title(f"{n_act} active connections: hatched alone, solid with {n_idle} idle")
    axes[1].set_title("CPU per request with and without idle connections")
    save(fig, out, "c10k_idle", figures, "C10K: idle connections",
         "hatched: active connections only; solid: plus idle connections")


def fig_micro(out_dir, figures):
    path = os.path.join(out_dir, "micro.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        micro = json.load(f)
    lines = {}
    for b in micro.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        m = re.match(r"^BM_Wait(\w+?)/(\d+)", b.get("name", ""))
        if not m:
            continue
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b.get("time_unit", "ns")]
        lines.setdefault(m.group(1), []).append((int(m.group(2)), b["real_time"] * scale))
    if not lines:
        return
    fig, ax = plt.subplots(figsize=(9.5, 5))
    names = {"Select": "select", "Poll": "poll", "EpollLT": "epoll_lt", "EpollET": "epoll_et"}
    for mech, pts in sorted(lines.items()):
        pts.sort()
        name = names.get(mech, mech)
        ax.plot([x for x, _ in pts], [y for _, y in pts], label=name, color=colour(name),
                marker=marker(name))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("registered sockets, one ready (log)")
    ax.set_ylabel("one readiness wait (µs, log)")
    ax.set_title("Readiness-call cost vs number of fds (Google Benchmark)")
    ax.grid(True, which="both", alpha=0.3)
    legend(ax)
    save(fig, out_dir, "readiness_cost_vs_fds", figures, "Readiness cost vs fds (micro)")


def fmt(v, digits=1):
    return f"{v:,.{digits}f}"


def write_index(run, out_dir, figures):
    ctx = run["context"]
    rows = []
    for c in run["cases"]:
        a = c.get("aggregate", {})
        ok = c.get("status") == "ok"

        def cell(key, digits=1):
            if not ok:
                return "<td></td>"
            s = a[key]
            return (f'<td title="min {fmt(s["min"], digits)}, max {fmt(s["max"], digits)}">'
                    f'{fmt(s["median"], digits)}</td>')
        rows.append(
            f'<tr class="{html.escape(c.get("status", ""))}"><td>{html.escape(c["name"])}</td>'
            f'<td>{html.escape(c.get("status", ""))}</td><td>{len(c.get("repetitions", []))}</td>'
            + cell("requests_per_s", 0) + cell("p50_us") + cell("p99_us") + cell("p99_9_us")
            + cell("server_cpu_us_per_request", 2)
            + f'<td>{html.escape(c.get("reason", ""))}</td></tr>')
    figs = "\n".join(
        f'<figure><a href="{s}.svg"><img src="{s}.png" alt="{html.escape(t)}"></a>'
        f'<figcaption>{html.escape(t)}{(": " + html.escape(n)) if n else ""} '
        f'(<a href="{s}.svg">SVG</a>)</figcaption></figure>' for s, t, n in figures)
    versions = ", ".join(f"{k} {v}" for k, v in ctx.get("versions", {}).items())
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>iomodels: {html.escape(run['suite']['name'])}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1200px; }}
figure {{ display: inline-block; margin: 0 1em 1em 0; vertical-align: top; }}
img {{ max-width: 560px; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 6px; text-align: right; }}
td:first-child, td:last-child {{ text-align: left; }}
tr.failed {{ background: #fdd; }} tr.skipped {{ color: #888; }}
</style></head><body>
<h1>iomodels: suite {html.escape(run['suite']['name'])}</h1>
<p>{html.escape(ctx.get('date', ''))} on {html.escape(ctx.get('host', ''))}: {html.escape(ctx.get('cpu_model', ''))},
{ctx.get('cpus', '')} CPUs, {html.escape(ctx.get('kernel', ''))}; {html.escape(ctx.get('compiler', ''))},
{html.escape(ctx.get('build_type', ''))} build at {html.escape(ctx.get('git_sha', ''))}; {html.escape(versions)}.
Server pinned to CPU {html.escape(str(ctx.get('server_cpus', '')))}, loadgen to CPU {html.escape(str(ctx.get('loadgen_cpus', '')))}.</p>
{figs if figures else '<p>No figure: no case had the data any figure needs.</p>'}
<h2>Aggregates</h2>
<p>Medians over repetitions (hover a cell for min and max). Latencies in µs, server CPU in µs per request.</p>
<table><tr><th>case</th><th>status</th><th>reps</th><th>req/s</th><th>p50</th><th>p99</th><th>p99.9</th>
<th>CPU µs/req</th><th>reason</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    with open(os.path.join(out_dir, "index.html.tmp"), "w") as f:
        f.write(page)
    os.replace(os.path.join(out_dir, "index.html.tmp"), os.path.join(out_dir, "index.html"))


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out_dir = argv[1]
    path = os.path.join(out_dir, "run.json")
    try:
        with open(path) as f:
            run = json.load(f)
    except (OSError, ValueError) as e:
        print(f"plot.py: cannot read {path}: {e}", file=sys.stderr)
        return 2
    global SERVERS
    try:
        SERVERS = server_list.Servers(server_list.load(out_dir))
    except (OSError, ValueError) as e:
        print(f"plot.py: {e}", file=sys.stderr)
        return 2
    cases = ok_cases(run)
    figures = []
    for draw in (fig_throughput, fig_spectrum, fig_open_loop, fig_cpu, fig_c10k):
        draw(cases, out_dir, figures)
    fig_micro(out_dir, figures)
    write_index(run, out_dir, figures)
    print(f"plot.py: {len(figures)} figure(s); open {os.path.abspath(os.path.join(out_dir, 'index.html'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
