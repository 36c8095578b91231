"""Latency spectra (HdrHistogram style, one figure per case, chosen in the
page): one line per model as built by default, the legend complete and
beside the axes."""
import re

from .report_data import describe, is_aa, is_variant, usable
from .run_loader import row_of
from .report_fig_common import WIDTH, family_legend, marker, plt, rounds_text, save
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
        # The models as built by default: variants (and the A/A copy) would
        # crowd the legend past the figure's edge; they have their own figure.
        if usable(c) and not is_variant(c) and not is_aa(c):
            ids.setdefault(c["case_id"], []).append(c)
    ps = [100 * (1 - 10 ** (-k / 8)) for k in range(0, 49)]
    figs = []
    for cid, cases in sorted(ids.items()):
        fig, ax = plt.subplots(figsize=(WIDTH, 4.8))
        drawn = []
        for c in sorted(cases, key=lambda c: servers.order([row_of(x) for x in cases]).index(row_of(c))):
            merged = merged_latency_us(c)
            total = sum(merged.values())
            if not total:
                continue
            # Percentiles beyond what the sample resolves are not drawn.
            usable_ps = [p for p in ps if 1 / (1 - p / 100) <= total]
            vals = percentiles_from_buckets(list(merged.items()), usable_ps)
            m = row_of(c)
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
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,g}"))  # 1,000 reads; 10^3 does not
        ax.set_xlabel("percentile (x = 1/(1-p), log)")
        ax.set_ylabel("latency (µs, log)")
        ax.grid(True, which="both", alpha=0.3)
        family_legend(ax, servers, drawn)
        desc = describe(cases[0].get("params", {}))
        ax.set_title(f"Latency spectrum — case {cid} ({desc}); {rounds_text(cases)} merged", fontsize=11)
        figs.append((cid, save(fig, out, stem_of(cid), f"Latency spectrum, {cid}",
                               f"Case: {cid} ({desc}). Units: µs against percentile. {rounds_text(cases)}; "
                               f"the histograms of all rounds merged, never averaged.", svg=False,
                               margins=dict(left=0.06, right=0.82, bottom=0.11, top=0.92))))
    return figs
