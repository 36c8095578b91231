"""Latency spectra (HdrHistogram style, one figure per case, chosen in the
page) and the summary heatmap as an image (for the README and for readers
without JavaScript)."""
import math
import re
import textwrap

from report_data import REFERENCE, case_id, describe, usable, who
from report_fig_common import WIDTH, family_legend, marker, plt, rounds_text, save
from report_rules import verdict
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter

TICKS = [1, 2, 10, 100, 1000, 10000, 100000, 1000000]
TICK_LABELS = ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]


def percentiles_from_buckets(buckets, ps):
    """Value at each percentile of a merged (value, count) bucket list."""
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


def merged_latency_us(c):
    """The latency histograms of every round merged (never averaged), in µs."""
    merged = {}
    for rep in c.get("repetitions", []):
        lg = rep.get("loadgen", {})
        h = lg.get("histogram") or lg.get("histograms", {}).get("latency") or {}
        scale = 1e-3 if h.get("unit", "ns") == "ns" else 1.0
        for v, n in h.get("buckets", []):
            merged[v * scale] = merged.get(v * scale, 0) + n
    return merged


def stem_of(cid):
    return "spectrum_" + re.sub(r"[^A-Za-z0-9_.-]", "_", cid)


def fig_spectra(run, servers, out):
    """[(case id, Figure)] for every case id with a histogram."""
    ids = {}
    for c in run["cases"]:
        if usable(c):
            ids.setdefault(case_id(c), []).append(c)
    ps = [100 * (1 - 10 ** (-k / 8)) for k in range(0, 49)]
    figs = []
    for cid, cases in sorted(ids.items()):
        fig, ax = plt.subplots(figsize=(WIDTH, 4.8))
        drawn = []
        for c in sorted(cases, key=lambda c: servers.order([who(x) for x in cases]).index(who(c))):
            merged = merged_latency_us(c)
            total = sum(merged.values())
            if not total:
                continue
            # Percentiles beyond what the sample resolves are not drawn.
            usable_ps = [p for p in ps if 1 / (1 - p / 100) <= total]
            vals = percentiles_from_buckets(list(merged.items()), usable_ps)
            m = who(c)
            ax.plot([1 / (1 - p / 100) for p in usable_ps], vals, color=servers.colour(m),
                    marker=marker(servers, m), markersize=3, markevery=8)
            drawn.append(m)
        if not drawn:
            plt.close(fig)
            continue
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(FixedLocator(TICKS))
        ax.xaxis.set_major_formatter(FuncFormatter(
            lambda x, _: TICK_LABELS[TICKS.index(x)] if x in TICKS else ""))
        ax.set_xlabel("percentile (x = 1/(1-p), log)")
        ax.set_ylabel("latency (µs, log)")
        ax.grid(True, which="both", alpha=0.3)
        family_legend(ax, servers, drawn)
        desc = describe(cases[0].get("params", {}))
        ax.set_title(f"Latency spectrum — case {cid} ({desc}); {rounds_text(cases)} merged", fontsize=11)
        figs.append((cid, save(fig, out, stem_of(cid), f"Latency spectrum, {cid}",
                               f"Case: {cid} ({desc}). Units: µs against percentile. {rounds_text(cases)}; "
                               f"the histograms of all rounds merged, never averaged.", svg=False,
                               margins=dict(left=0.06, right=0.84, bottom=0.11, top=0.92))))
    return figs


def cell_colour(value):
    """Blue better, red worse, white at 1; the scale saturates at 4x either way."""
    cmap = plt.get_cmap("RdBu")
    x = max(-2.0, min(2.0, math.log2(value))) if value else 0.0
    return cmap(0.5 + x / 4.0)


def is_dark(rgba):
    """White text reads better on this colour than black."""
    return 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 0.5


def summary_rounds(summary):
    """'3 rounds' (or '2–3 rounds'): how many rounds the heatmap's ratios rest on."""
    ns = sorted({c["rounds"] for c in summary["cells"].values() if c.get("rounds")})
    if not ns:
        return "no rounds"
    return f"{ns[0]} round{'s' if ns[0] != 1 else ''}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]} rounds"


def fig_summary(summary, out, title):
    models, scen, cells = summary["models"], summary["scenarios"], summary["cells"]
    if not models or not scen:
        return None
    plt.rcParams["hatch.linewidth"] = 0.6
    h = 0.42 * len(models) + 1.9
    width = min(WIDTH, 3.2 + 1.7 * len(scen))
    fig, ax = plt.subplots(figsize=(width, h))
    wrap = int(width * 13)  # characters of 8-9 pt text a line holds: a narrow figure wraps, never clips
    for i, m in enumerate(models):
        for j, s in enumerate(scen):
            cell = cells.get((m, s))
            if not cell:
                continue
            v = cell["value"]
            sig = False
            if v is None:
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor="#dddddd", edgecolor="white"))
                text = "failed" if "F" in cell["marks"] else "—"
            else:
                sig = verdict(v, cell["lo"], cell["hi"]) != "same" and cell["rounds"] > 1
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor=cell_colour(v), alpha=1.0 if sig else 0.45,
                                       edgecolor="white"))
                iv = f"[{cell['lo']:.2f}–{cell['hi']:.2f}]" if cell["rounds"] > 1 else "(1 round)"
                text = "ref" if m == REFERENCE else f"{v:.2f}×\n{iv}"
            if cell["marks"]:
                ax.add_patch(Rectangle((j, i), 1, 1, fill=False, hatch="//", edgecolor=(0, 0, 0, 0.3), linewidth=0))
                text += f" {cell['marks']}"
            rgba = cell_colour(v) if v is not None else (0.87, 0.87, 0.87, 1)
            dark = v is not None and sig and is_dark(rgba)
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=8,
                    color="white" if dark else "black", fontweight="bold" if cell["marks"] else "normal")
    ax.set_xlim(0, len(scen))
    ax.set_ylim(len(models), 0)
    ax.set_xticks([j + 0.5 for j in range(len(scen))])
    ax.set_xticklabels(scen, fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks([i + 0.5 for i in range(len(models))])
    ax.set_yticklabels(models, fontsize=9)
    for sp in ax.spines.values():
        sp.set_visible(False)
    ax.tick_params(length=0)
    ax.set_title(textwrap.fill(f"{title}; {summary_rounds(summary)}", wrap), fontsize=9, pad=22)
    ax.set_xlabel(textwrap.fill("blue: faster than epoll_lt, red: slower, pale: the interval holds 1; hatched: "
                                "D degraded, S saturated, L loadgen-bound, O outlier rounds, F failed", wrap),
                  fontsize=8)
    return save(fig, out, "summary_heatmap", "Summary: throughput relative to epoll_lt",
                f"Cells: geometric mean over the scenario's cases of the per-round paired throughput ratio "
                f"to {REFERENCE}, [interval]. Units: ratio of requests/s (×). {summary_rounds(summary)}. "
                "Blue better, red worse, pale when the interval holds 1. "
                "Hatched: D degraded, S saturated, L loadgen-bound, O outlier rounds, F failed.")
