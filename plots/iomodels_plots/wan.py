#!/usr/bin/python3
"""Throughput vs round-trip time per model, from the `wan` suite's runs.

    plots/wan.py OUT_DIR RUN_DIR [RUN_DIR ...]

Each RUN_DIR is one `harness run --suite harness/suites/wan.json --topology netns
[--link delay=...[,loss=...]]` (run.json's context.link_params gives its RTT and
loss). Writes OUT_DIR/throughput_vs_rtt.{png,svg} (one panel per connection
count, one line per model over the loss-free links, median req/s, in the
server list's colours; a lossy link is a hollow marker at its RTT) and prints
the table as markdown, one column per link ("RTT 10 ms, 0.1% loss"). Needs
Debian's python3-matplotlib (/usr/bin/python3).
"""
import argparse
import os
import sys

from .run_loader import P99, RunError, load_run, median
from .server_list import load_servers


def load(run_dir):
    """(run, link) with link = (rtt ms, loss %): the column the run fills."""
    run = load_run(run_dir)
    link = run.get("context", {}).get("link_params") or {}
    return run, (float(link.get("rtt_ms", 0.0)), float(link.get("loss_pct", 0.0)))


def label(link):
    rtt, loss = link
    return f"RTT {rtt:g} ms" + (f", {loss:g}% loss" if loss else "")


def table(runs):
    """{(server, connections): {link: (median req/s, median p99 us, status)}}"""
    out = {}
    for run, rtt in runs:
        for c in run.get("cases", []):
            key = (c["server"], c["params"]["connections"])
            out.setdefault(key, {})[rtt] = (median(c), median(c, P99), c.get("status"))
    return out


def main(argv):
    ap = argparse.ArgumentParser(prog="wan.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("out_dir", help="where throughput_vs_rtt.{png,svg} go")
    ap.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="one wan suite run per link")
    a = ap.parse_args(argv[1:])  # bad usage: exit 2 with the usage line
    out_dir = a.out_dir
    try:
        runs = [load(d) for d in a.run_dirs]
    except RunError as e:
        print(f"wan.py: {e}", file=sys.stderr)
        return 2
    servers = load_servers(a.run_dirs[0])
    rows = table(runs)
    rtts = sorted({link for _, link in runs})
    print("| server | conns | " + " | ".join(f"{label(r)}: req/s / p99 µs" for r in rtts) + " |")
    print("|---|---|" + "---|" * len(rtts))
    for (server, conns), by_rtt in sorted(rows.items()):
        cells = []
        for r in rtts:
            rps, p99, status = by_rtt.get(r, (None, None, "missing"))
            mark = "" if status == "ok" else f" ({status})"
            cells.append("—" if rps is None else f"{rps / 1000:.1f}k / {p99:.0f}{mark}")
        print(f"| {server} | {conns} | " + " | ".join(cells) + " |")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    conns_list = sorted({c for _, c in rows})
    fig, axes = plt.subplots(1, len(conns_list), figsize=(7 * len(conns_list), 5), squeeze=False)
    for ax, conns in zip(axes[0], conns_list):
        for server in servers.order({s for s, c in rows if c == conns}):
            by_rtt = rows[(server, conns)]
            xs = [r for r in rtts if r[1] == 0 and by_rtt.get(r, (None,))[0] is not None]
            colour = servers.colour(server)
            ax.plot([r[0] for r in xs], [by_rtt[r][0] for r in xs], marker="o", label=server, color=colour)
            lossy = [r for r in rtts if r[1] > 0 and by_rtt.get(r, (None,))[0] is not None]
            ax.plot([r[0] for r in lossy], [by_rtt[r][0] for r in lossy], linestyle="none", marker="o",
                    markerfacecolor="none", color=colour)
        for r in rtts:
            if r[1] > 0:
                ax.annotate(f"{r[1]:g}% loss", (r[0], 0), xycoords=("data", "axes fraction"),
                            textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
        ax.set_title(f"echo 64 B, {conns} connections (median of rounds; hollow: lossy link)")
        ax.set_xlabel("round-trip time (ms)")
        ax.set_ylabel("requests/s")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, ncol=2)
    os.makedirs(out_dir, exist_ok=True)
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out_dir, f"throughput_vs_rtt.{ext}"), bbox_inches="tight")
    return 0

