"""The comparison figures: throughput against connections (absolute, and
paired to epoll_lt with its interval), cost per message, the open-loop p99,
idle connections, and the readiness-call micro-benchmark. Each returns a
Figure (or None when its data is absent: never an empty chart)."""
import json
import os
import re

from report_data import (REFERENCE, case_id, who, cost_per_message, describe, med, paired_ratio, scenario,
                         usable)
from report_fig_common import (WIDTH, family_axis, family_legend, family_positions, marker, plt,
                               rounds_text, save)
from matplotlib.ticker import FixedLocator, FuncFormatter


def headline_id(cases):
    """The case the per-model figures use: echo 64 B at 64 connections when
    it ran, else the concurrency case most models ran (most connections)."""
    ids = {}
    for c in cases:
        if usable(c) and scenario(c.get("params", {})) == "concurrency":
            ids.setdefault(case_id(c), (set(), c["params"].get("connections", 0)))[0].add(who(c))
    if not ids:
        return None
    if "echo/c64/s64" in ids:
        return "echo/c64/s64"
    return max(ids, key=lambda k: (len(ids[k][0]), ids[k][1], k))


def _log_conn_axis(ax, conns):
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(conns))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: ""))
    ax.set_xlabel("concurrent connections (log)")
    ax.grid(True, which="both", alpha=0.3)


def fig_throughput(run, servers, by_id, out):
    sel = [c for c in run["cases"] if usable(c) and scenario(c.get("params", {})) == "concurrency"]
    if len({c["params"]["connections"] for c in sel}) < 2:
        return None
    conns = sorted({c["params"]["connections"] for c in sel})
    models = servers.order({who(c) for c in sel})
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(WIDTH, 5.2))
    sources = set()
    for m in models:
        pts = sorted((c["params"]["connections"], c) for c in sel if who(c) == m)
        kw = dict(color=servers.colour(m), marker=marker(servers, m), label=m, markersize=4)
        ax.plot([x for x, _ in pts], [med(c, "requests_per_s") for _, c in pts], **kw)
        rs = [(x, paired_ratio(c, by_id)) for x, c in pts]
        rs = [(x, r) for x, r in rs if r]
        if rs:
            sources |= {r["source"] for _, r in rs if m != REFERENCE}
            ys = [r["median"] for _, r in rs]
            bx.errorbar([x for x, _ in rs], ys, yerr=[[y - r["lo"] for y, (_, r) in zip(ys, rs)],
                                                     [r["hi"] - y for y, (_, r) in zip(ys, rs)]],
                        capsize=2, **kw)
    for a in (ax, bx):
        _log_conn_axis(a, conns)
    ax.set_ylabel("requests/s (median over rounds)")
    ax.set_title("Absolute throughput (drifts with the host between rounds)", fontsize=10)
    bx.set_yscale("log")
    # Plain decimals on the log axis: 0.6 reads, 6x10^-1 does not.
    bx.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    bx.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    bx.tick_params(axis="y", which="minor", labelsize=7)
    bx.axhline(1.0, color="#333", linewidth=0.8)
    bx.set_ylabel(f"throughput / {REFERENCE}, same round (log)")
    bx.set_title(f"Paired ratio to {REFERENCE}: median and interval", fontsize=10)
    family_legend(bx, servers, models)
    p = sel[0]["params"]
    case = f"{p.get('protocol', 'echo')} {p.get('size', 64)} B closed loop, {len(conns)} connection counts"
    fig.suptitle(f"Throughput vs connections — {case}; {rounds_text(sel)}", fontsize=11)
    return save(fig, out, "throughput_vs_connections", "Throughput vs connections",
                f"Case: {case}. Units: requests/s (left), ratio to {REFERENCE} measured in the same round "
                f"(right; >1 is faster). {rounds_text(sel)}. Interval: {'; '.join(sorted(sources)) or 'n/a'}.")


def fig_cost(run, servers, by_id, out):
    hid = headline_id(run["cases"])
    sel = [c for c in run["cases"] if hid and case_id(c) == hid and usable(c)]
    costs = [(c, cost_per_message(c)) for c in sel]
    costs = [(c, k) for c, k in costs if k and k.get("syscalls")]
    if not costs:
        return None
    models = servers.order({who(c) for c, _ in costs})
    by_m = {who(c): (c, k) for c, k in costs}
    xs, labels = family_positions(servers, models)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(WIDTH, 5.4))
    names = sorted({n for _, k in costs for n in k["syscalls"]},
                   key=lambda n: -max(k["syscalls"].get(n, 0) for _, k in costs))
    cmap = plt.get_cmap("tab20")
    bottom = [0.0] * len(models)
    for i, n in enumerate(names):
        vals = [by_m[m][1]["syscalls"].get(n, 0.0) for m in models]
        ax.bar(xs, vals, bottom=bottom, color=cmap(i % 20), label=n, width=0.8)
        bottom = [b + v for b, v in zip(bottom, vals)]
    for x, b in zip(xs, bottom):
        ax.annotate(f"{b:.2f}", (x, b), ha="center", va="bottom", fontsize=7)
    family_axis(ax, servers, models, xs, labels)
    ax.set_ylim(0, max(bottom) * 1.12 if max(bottom) > 0 else 1)
    ax.set_ylabel("syscalls per message (counted by the server)")
    # Beside the bars, not on them: the tallest stacks reach the top.
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title="syscall",
              title_fontsize=7)
    ax.grid(True, axis="y", alpha=0.3)
    cpu = [by_m[m][1].get("cpu_us") or 0.0 for m in models]
    bx.bar(xs, cpu, color=[servers.colour(m) for m in models], width=0.8)
    for x, m in zip(xs, models):
        # Each round as a dot, in place of a min-max bar: with three rounds
        # the reader sees all of the data.
        per = [r.get("server_cpu", {}).get("us_per_request") for r in by_m[m][0].get("repetitions", [])]
        per = [v for v in per if v is not None]
        bx.plot([x] * len(per), per, "k.", markersize=4)
        sw = by_m[m][1].get("context_switches")
        if sw is not None:
            bx.annotate(f"{sw:.2f} cs", (x, 0), xytext=(0, 2), textcoords="offset points", ha="center",
                        va="bottom", fontsize=7, rotation=90, color="white")
    family_axis(bx, servers, models, xs, labels)
    bx.set_ylim(0, max(cpu + [0.0]) * 1.12 or 1)
    bx.set_ylabel("server CPU µs per message (bar: median; dots: rounds)")
    bx.grid(True, axis="y", alpha=0.3)
    desc = describe(sel[0]["params"])
    fig.suptitle(f"Cost per message — case {hid} ({desc}); {rounds_text(sel)}", fontsize=11)
    src = sorted({k["source"] for _, k in costs})
    return save(fig, out, "cost_per_message", "Cost per message",
                f"Case: {hid} ({desc}). Units: syscalls per message by name (left); server CPU µs per "
                f"message, 'cs' = context switches per message (right). {rounds_text(sel)}. "
                f"Counts from: {', '.join(src)}.")


def fig_open_loop(run, servers, by_id, out):
    sel = [c for c in run["cases"] if usable(c) and c.get("params", {}).get("rate", 0) > 0]
    if not sel:
        return None
    models = servers.order({who(c) for c in sel})
    fig, ax = plt.subplots(figsize=(WIDTH, 5))
    for m in models:
        pts = sorted((c["params"]["rate"], med(c, "p99_us")) for c in sel if who(c) == m)
        ax.plot([x for x, _ in pts], [y for _, y in pts], color=servers.colour(m), marker=marker(servers, m))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (requests/s, log)")
    ax.set_ylabel("p99 latency (µs, log; from the intended send time)")
    ax.grid(True, which="both", alpha=0.3)
    family_legend(ax, servers, models)
    p = sel[0]["params"]
    case = f"open loop, {p.get('protocol')} {p.get('size')} B, {p.get('connections')} connections"
    ax.set_title(f"p99 vs offered rate — {case}; {rounds_text(sel)}", fontsize=11)
    return save(fig, out, "p99_vs_rate", "p99 vs offered rate (open loop)",
                f"Case: {case}. Units: µs (p99, median over rounds) against requests/s offered. "
                f"{rounds_text(sel)}. Latency is corrected for coordinated omission.")


def fig_idle(run, servers, by_id, out):
    idle = [c for c in run["cases"] if usable(c) and c.get("params", {}).get("idle_connections", 0) > 0]
    if not idle:
        return None
    base = {}
    for c in run["cases"]:
        p = c.get("params", {})
        if usable(c) and not p.get("idle_connections") and not p.get("rate"):
            base[(who(c), p["protocol"], p["connections"], str(p["size"]), p["pipeline"])] = c
    models = servers.order({who(c) for c in idle})
    xs, labels = family_positions(servers, models)
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 5.2))
    w = 0.4
    for ax, key, label in ((axes[0], "requests_per_s", "requests/s (median)"),
                           (axes[1], "server_cpu_us_per_request", "server CPU µs per request (median)")):
        for x, m in zip(xs, models):
            c = next(c for c in idle if who(c) == m)
            p = c["params"]
            b = base.get((m, p["protocol"], p["connections"], str(p["size"]), p["pipeline"]))
            if b and med(b, key) is not None:
                ax.bar(x - w / 2, med(b, key), w, color=servers.colour(m), alpha=0.45, hatch="//")
            if med(c, key) is not None:
                ax.bar(x + w / 2, med(c, key), w, color=servers.colour(m))
        family_axis(ax, servers, models, [x for x in xs], labels)
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
    p = idle[0]["params"]
    fig.suptitle(f"Idle connections — {p['connections']} busy connections alone (hatched) and with "
                 f"{p['idle_connections']} idle ones (solid); {rounds_text(idle)}", fontsize=11)
    return save(fig, out, "idle_connections", "Idle connections",
                f"Case: {describe(p)} against the same without idle connections. Units: requests/s (left), "
                f"server CPU µs per request (right), medians. {rounds_text(idle)}.")


def fig_micro(run, servers, by_id, out):
    path = os.path.join(out, "micro.json")
    if not os.path.exists(path):
        return None
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
        return None
    names = {"Select": "select", "Poll": "poll", "EpollLT": "epoll_lt", "EpollET": "epoll_et"}
    fig, ax = plt.subplots(figsize=(WIDTH, 5))
    for mech, pts in sorted(lines.items()):
        pts.sort()
        n = names.get(mech, mech)
        ax.plot([x for x, _ in pts], [y for _, y in pts], label=n,
                color=servers.colour(n), marker=marker(servers, n))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("registered sockets, one ready (log)")
    ax.set_ylabel("one readiness wait (µs, log)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title("Readiness-call cost vs number of fds (Google Benchmark, micro.json)", fontsize=11)
    return save(fig, out, "readiness_cost_vs_fds", "Readiness cost vs fds (micro-benchmark)",
                "Case: one ready socket among N registered. Units: µs per wait (Google Benchmark real time, "
                "its own repetitions).")


FIGURES = (fig_throughput, fig_cost, fig_open_loop, fig_idle, fig_micro)
