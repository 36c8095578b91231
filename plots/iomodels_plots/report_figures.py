"""The comparison figures: throughput against connections (absolute, and
paired to epoll_lt with its interval), cost per message, the open-loop p99,
idle connections, and the readiness-call micro-benchmark. Each returns a
Figure (or None when its data is absent: never an empty chart)."""
import json
import os
import re
import statistics

from .report_data import (REFERENCE, cost_per_message, describe, is_aa, is_cost_group, is_variant, paired_ratio,
                         row_label, same_as_default, scenario, usable)
from .run_loader import P99, SERVER_CPU, THROUGHPUT, median, round_value, row_of
from .report_flags import flags
from .report_fig_common import (WIDTH, family_axis, family_legend, family_positions, marker, plt,
                               rounds_text, save)
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator


def headline_id(cases):
    """The case the per-model figures use: echo 64 B at 64 connections when
    it ran, else the concurrency case most models ran (most connections)."""
    ids = {}
    for c in cases:
        if usable(c) and scenario(c.get("params", {})) == "concurrency":
            ids.setdefault(c["case_id"], (set(), c["params"].get("connections", 0)))[0].add(row_of(c))
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
    sel = [c for c in run["cases"] if usable(c) and scenario(c.get("params", {})) == "concurrency"
           and not is_variant(c) and not is_aa(c)]  # variants: a figure of their own
    if len({c["params"]["connections"] for c in sel}) < 2:
        return None
    conns = sorted({c["params"]["connections"] for c in sel})
    models = servers.order({row_of(c) for c in sel})
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(WIDTH, 5.2))
    sources = set()
    for m in models:
        pts = sorted((c["params"]["connections"], c) for c in sel if row_of(c) == m)
        kw = dict(color=servers.colour(m), marker=marker(servers, m), label=m, markersize=4)
        ax.plot([x for x, _ in pts], [median(c) for _, c in pts], **kw)
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
    """Syscalls by name and server CPU per message at the headline case, one
    bar per model as built by default (variants have a figure of their own),
    one chart above the other so each bar is wide enough for its label."""
    hid = headline_id(run["cases"])
    sel = [c for c in run["cases"] if hid and c["case_id"] == hid and usable(c) and not is_variant(c)
           and not is_aa(c)]
    costs = [(c, cost_per_message(c)) for c in sel]
    costs = [(c, k) for c, k in costs if k and k.get("syscalls")]
    if not costs:
        return None
    models = servers.order({row_of(c) for c, _ in costs})
    by_m = {row_of(c): (c, k) for c, k in costs}
    xs, labels = family_positions(servers, models)
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(WIDTH, 8.6), sharex=True)
    names = sorted({n for _, k in costs for n in k["syscalls"]},
                   key=lambda n: (-max(k["syscalls"].get(n, 0) for _, k in costs), n))  # ties by name: a stable figure
    cmap = plt.get_cmap("tab20")
    bottom = [0.0] * len(models)
    for i, n in enumerate(names):
        vals = [by_m[m][1]["syscalls"].get(n, 0.0) for m in models]
        ax.bar(xs, vals, bottom=bottom, color=cmap(i % 20), label=n, width=0.72)
        bottom = [b + v for b, v in zip(bottom, vals)]
    for x, b in zip(xs, bottom):
        ax.annotate(f"{b:.2f}", (x, b), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                    fontsize=8)
    ax.set_ylim(0, max(bottom) * 1.15 if max(bottom) > 0 else 1)
    ax.set_ylabel("syscalls per message\n(counted by the server)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False, title="syscall",
              title_fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    for pos, fam in labels:
        ax.annotate(fam, (pos, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9, fontweight="bold",
                    color="#444")
    cpu = [by_m[m][1].get("cpu_us") or 0.0 for m in models]
    top = max(cpu + [0.0]) or 1.0
    for x, m, v in zip(xs, models, cpu):
        bx.bar(x, v, color=servers.colour(m), width=0.72, edgecolor="#555", linewidth=0.4)
        # Each round as a dot in place of a min-max bar: with three rounds the reader sees all of the data.
        per = [round_value(r, SERVER_CPU) for r in by_m[m][0].get("repetitions", [])]
        per = [p for p in per if p is not None]
        bx.plot([x] * len(per), per, "k.", markersize=4)
        sw = by_m[m][1].get("context_switches")
        label = f"{v:.1f} µs" + (f"\n{sw:.2f} cs" if sw is not None else "")
        bx.annotate(label, (x, max(per + [v])), xytext=(0, 3), textcoords="offset points", ha="center",
                    va="bottom", fontsize=7.5, color="#222")
    bx.set_ylim(0, top * 1.3)
    bx.set_ylabel("server CPU µs per message\n(bar: median; dots: rounds)")
    bx.grid(True, axis="y", alpha=0.3)
    bx.set_xticks(xs)
    bx.set_xticklabels(models, rotation=30, ha="right", fontsize=9)
    desc = describe(sel[0]["params"])
    fig.suptitle(f"Cost per message — case {hid} ({desc}); {rounds_text(sel)}", fontsize=11)
    src = sorted({k["source"] for _, k in costs})
    return save(fig, out, "cost_per_message", "Cost per message",
                f"Case: {hid} ({desc}). Units: syscalls per message by name (top); server CPU µs per "
                f"message and 'cs' = context switches per message (bottom). {rounds_text(sel)}. "
                f"Counts from: {', '.join(src)}. Variants are in the settings figure.")


def _rep_p99(r):
    return round_value(r, P99)


def _rep_lag_p99(r):
    return r.get("loadgen", {}).get("schedule_lag_us", {}).get("p99")


def fig_open_loop(run, servers, by_id, out):
    """p99 against offered rate, one small panel per family so lines stay
    few; each point is the median round with a bar from the lowest to the
    highest round, and a grey band is the loadgen's own send lag (p99): a
    server cannot be told apart from the client below it."""
    sel = [c for c in run["cases"] if usable(c) and c.get("params", {}).get("rate", 0) > 0 and not is_variant(c)
           and not is_cost_group(c)]
    if not sel:
        return None
    models = servers.order({row_of(c) for c in sel})
    fams = []
    for m in models:
        if servers.family(m) not in fams:
            fams.append(servers.family(m))
    rates = sorted({c["params"]["rate"] for c in sel})
    ncol = min(3, len(fams))
    nrow = (len(fams) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, 3.3 * nrow + 0.9), sharex=True, sharey=True,
                             squeeze=False)
    vals = [v for c in sel for r in c["repetitions"] for v in (_rep_p99(r), _rep_lag_p99(r)) if v]
    lo_y, hi_y = min(vals) * 0.7, max(vals) * 1.5
    # The floor: each case's send-lag p99 (its median round); the band spans
    # the typical case (median over cases, dark) up to the worst case (light).
    lag = {x: sorted(statistics.median(v) for c in sel if c["params"]["rate"] == x
                     for v in [[_rep_lag_p99(r) for r in c["repetitions"] if _rep_lag_p99(r)]] if v)
           for x in rates}
    floor = [statistics.median(lag[x]) if lag[x] else lo_y for x in rates]
    worst = [lag[x][-1] if lag[x] else lo_y for x in rates]
    saturated = []
    for k, fam in enumerate(fams):
        ax = axes[k // ncol][k % ncol]
        ax.fill_between(rates, [lo_y] * len(rates), floor, color="#999999", alpha=0.45, linewidth=0,
                        label="loadgen's own send lag p99: typical case")
        ax.fill_between(rates, floor, worst, color="#cccccc", alpha=0.35, linewidth=0,
                        label="… up to the worst case")
        fam_models = [m for m in models if servers.family(m) == fam]
        if REFERENCE not in fam_models:
            fam_models = [REFERENCE] + fam_models  # the reference in every panel, for comparison
        for i, m in enumerate(fam_models):
            pts = sorted((c["params"]["rate"], c) for c in sel if row_of(c) == m)
            # Nudge each model sideways a little so the bars do not hide each other.
            shift = 1 + 0.035 * (i - (len(fam_models) - 1) / 2)
            xs, ys, lo, hi = [], [], [], []
            for x, c in pts:
                per = [v for v in (_rep_p99(r) for r in c["repetitions"]) if v]
                if not per:
                    continue
                y = median(c, P99) or sorted(per)[len(per) // 2]
                xs.append(x * shift)
                ys.append(y)
                lo.append(y - min(per))
                hi.append(max(per) - y)
                if any(f == "saturated" for f, _ in flags(c)):
                    saturated.append((ax, x * shift, y, m))
            ref = m == REFERENCE and servers.family(m) != fam
            ax.errorbar(xs, ys, yerr=[lo, hi], color="#888888" if ref else servers.colour(m),
                        marker=marker(servers, m), markersize=4, capsize=2, linewidth=1.0,
                        linestyle=":" if ref else "-", label=m + (" (reference)" if ref else ""))
        ax.set_title(fam, fontsize=10, fontweight="bold", loc="left")
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[2:], labels[2:], fontsize=7, loc="upper left", frameon=False)  # the models only
    for ax, x, y, m in saturated:
        ax.annotate("S", (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8, fontweight="bold",
                    color="#a00")
    band = axes[0][0].get_legend_handles_labels()
    for k in range(len(fams), nrow * ncol):
        axes[k // ncol][k % ncol].set_visible(False)
        # The panel above an empty slot shows its own x labels.
        axes[k // ncol - 1][k % ncol].tick_params(labelbottom=True)
        axes[k // ncol - 1][k % ncol].set_xlabel("offered requests/s (log)")
    # One key for what every panel shares, in an empty slot when there is one, else below.
    extra = [Line2D([], [], linestyle="none", marker="$S$", color="#a00", label="S: saturated in some round"),
             Line2D([], [], color="#888888", linestyle=":", marker="v", label=f"{REFERENCE}, dotted in other panels")]
    where = dict(loc="center", bbox_to_anchor=(0.84, 0.27)) if len(fams) < nrow * ncol else \
        dict(loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=4)
    fig.legend(band[0][:2] + extra, band[1][:2] + [e.get_label() for e in extra], fontsize=9, frameon=False,
               title="in every panel", title_fontsize=9, **where)
    for row in axes:
        for ax in row:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(lo_y, hi_y)
            ax.xaxis.set_major_locator(FixedLocator(rates))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
            ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: ""))
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: ""))
            ax.grid(True, which="major", alpha=0.3)
    for row in axes:
        row[0].set_ylabel("p99 µs (log)")
    for ax in axes[-1]:
        ax.set_xlabel("offered requests/s (log)")
    p = sel[0]["params"]
    case = f"open loop, {p.get('protocol')} {p.get('size')} B, {p.get('connections')} connections"
    fig.suptitle(f"p99 vs offered rate — {case}; {rounds_text(sel)}: point = median round, bar = lowest to "
                 f"highest round; grey = the loadgen's own send lag p99; S = saturated", fontsize=10)
    return save(fig, out, "p99_vs_rate", "p99 vs offered rate (open loop)",
                f"Case: {case}. Units: µs (p99 from the intended send time) against requests/s offered. "
                f"{rounds_text(sel)}: the point is the median round, the bar spans the lowest to the highest "
                f"round (rounds can differ by 100× here: read a bar, not a line). Grey band: the p99 of the "
                f"loadgen's own send lag (each case's median round), dark up to the median case, light up to the "
                f"worst; a p99 inside it cannot be told from the client's lateness. One panel per family, {REFERENCE} dotted in each. S: the open loop could not keep "
                f"the rate in some round (the case table says which and why).")


def fig_variants(run, servers, by_id, out):
    """Each model's settings studies beside the model as built by default:
    the paired req/s ratio to the reference per case, median and interval.
    A variant with the default's very arguments is labelled "(= default)":
    its distance from the model's own bar is noise."""
    var = [c for c in run["cases"] if usable(c) and is_variant(c)]
    if not var:
        return None
    bases = servers.order({c["server"] for c in var})
    fig, axes = plt.subplots(1, len(bases), figsize=(WIDTH, 4.6), sharey=True, squeeze=False)
    for ax, b in zip(axes[0], bases):
        # Only cases with a ratio: one the reference did not run has none.
        mine = {c["case_id"]: c for c in var if c["server"] == b and paired_ratio(c, by_id)}
        ids = sorted(mine, key=lambda i: (mine[i]["params"].get("pipeline", 1),
                                          mine[i]["params"].get("connections", 0), i))
        rows = [b] + sorted({row_of(c) for c in var if c["server"] == b})
        w = 0.8 / len(rows)
        for k, row in enumerate(rows):
            xs, ys, lo, hi = [], [], [], []
            for j, i in enumerate(ids):
                c = by_id.get((row, i))
                r = paired_ratio(c, by_id) if c and usable(c) else None
                if r:
                    xs.append(j - 0.4 + w * (k + 0.5))
                    ys.append(r["median"])
                    lo.append(r["median"] - r["lo"])
                    hi.append(r["hi"] - r["median"])
            cases_of_row = [c for c in var if row_of(c) == row]
            label = row_label(row, cases_of_row) if row != b else f"{b} (as built)"
            ax.bar(xs, ys, w * 0.92, yerr=[lo, hi], capsize=2, label=label,
                   color=servers.colour(row) if row != b else servers.colour(b),
                   hatch="" if row == b else ("//" if any(same_as_default(c) for c in cases_of_row) else ".."),
                   edgecolor="#444", linewidth=0.4)
        ax.axhline(1.0, color="#333", linewidth=0.8)
        ax.set_xticks(range(len(ids)))
        ax.set_xticklabels([i.replace("echo/", "") for i in ids], fontsize=8)
        ax.set_title(b, fontsize=10, fontweight="bold")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False, ncol=1)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0][0].set_ylabel(f"req/s ÷ {REFERENCE}, paired per round")
    fig.suptitle(f"Settings studies — each variant against {REFERENCE} beside the model as built; bar = median, "
                 f"whisker = interval; hatched // = the default's own arguments (any gap to the first bar is "
                 f"noise); {rounds_text(var)}", fontsize=9.5)
    return save(fig, out, "variants", "Settings studies (variants)",
                f"Each model run with other arguments (server_args), beside the model as built by default. Units: "
                f"req/s ratio to {REFERENCE} measured in the same round. {rounds_text(var)}. A bar labelled "
                f"'(= default)' runs the default's very settings: its distance from the model's own bar shows "
                f"the noise of these cases.")


def fig_idle(run, servers, by_id, out):
    idle = [c for c in run["cases"] if usable(c) and c.get("params", {}).get("idle_connections", 0) > 0]
    if not idle:
        return None
    base = {}
    for c in run["cases"]:
        p = c.get("params", {})
        if usable(c) and not p.get("idle_connections") and not p.get("rate"):
            base[(row_of(c), p["protocol"], p["connections"], str(p["size"]), p["pipeline"])] = c
    models = servers.order({row_of(c) for c in idle})
    xs, labels = family_positions(servers, models)
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 5.2))
    w = 0.4
    for ax, key, label in ((axes[0], THROUGHPUT, "requests/s (median)"),
                           (axes[1], SERVER_CPU, "server CPU µs per request (median)")):
        for x, m in zip(xs, models):
            c = next(c for c in idle if row_of(c) == m)
            p = c["params"]
            b = base.get((m, p["protocol"], p["connections"], str(p["size"]), p["pipeline"]))
            if b and median(b, key) is not None:
                ax.bar(x - w / 2, median(b, key), w, color=servers.colour(m), alpha=0.45, hatch="//")
            if median(c, key) is not None:
                ax.bar(x + w / 2, median(c, key), w, color=servers.colour(m))
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
        # CPU time, not real time: on a loaded host real time includes the
        # time the benchmark waited for a CPU (7x at load average 17).
        lines.setdefault(m.group(1), []).append((int(m.group(2)), b.get("cpu_time", b["real_time"]) * scale))
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
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,g}"))
        axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.grid(True, which="major", alpha=0.4)
    ax.set_xlabel("registered sockets, one ready (log)")
    ax.set_ylabel("one readiness wait: CPU µs (log)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title("Readiness-call cost vs number of fds (Google Benchmark, micro.json)", fontsize=11)
    return save(fig, out, "readiness_cost_vs_fds", "Readiness cost vs fds (micro-benchmark)",
                "Case: one ready socket among N registered. Units: CPU µs per wait (Google Benchmark cpu_time, "
                "its own repetitions; select stops at FD_SETSIZE, 1024). The epoll_et line includes a 1-byte send "
                "and recv per wait, needed to make a fresh edge.")


FIGURES = (fig_throughput, fig_cost, fig_open_loop, fig_idle, fig_variants, fig_micro)
