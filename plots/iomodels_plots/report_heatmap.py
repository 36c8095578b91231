"""The summary heatmap as an image (for the README and for readers without
JavaScript), drawn from the same cells as the page's table
(report_summary.py): one column per case, grey "≈" where the loadgen was the
limit, colour only beyond the noise."""
import math
import textwrap

from matplotlib.patches import Rectangle

from .report_data import REFERENCE
from .report_fig_common import WIDTH, plt, save
from .report_flags import CHIPS
from .report_summary import cell_text, floor_words, interval_words

HINT = {"better": "#1a5fb4", "worse": "#c01c28"}  # text only: an interval under 95% colours no cell
FILL = {"limited": "#d9d9d9", "aa": "#ececec", "failed": "#f3d0d0", "none": "#f4f4f4", "ref": "#ffffff",
        "noise": "#ffffff", "hint": "#ffffff"}


def cell_colour(value):
    """Blue better, red worse, white at 1; the scale saturates at 4x either way."""
    cmap = plt.get_cmap("RdBu")
    x = max(-2.0, min(2.0, math.log2(value))) if value else 0.0
    return cmap(0.5 + x / 4.0)


def is_dark(rgba):
    """White text reads better on this colour than black."""
    return 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 0.5


def fig_summary(summary, out, title, stem="summary_heatmap"):
    rows, cols, cells = summary["rows"], summary["columns"], summary["cells"]
    if not rows or not cols:
        return None
    cw, rh = 0.86, 0.44  # inches per column and row: two lines of 7-pt text fit
    width = 2.4 + cw * len(cols)
    fig, ax = plt.subplots(figsize=(width, rh * len(rows) + 2.6))
    for i, m in enumerate(rows):
        for j, col in enumerate(cols):
            cell = cells.get((m, col["id"]))
            if not cell:
                continue
            st = cell["state"]
            if st == "sig":
                v = cell["value"] if not cell["lower_better"] else 1 / cell["value"]
                face = cell_colour(v)
            else:
                face = FILL.get(st, "#ffffff")
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=face, edgecolor="#bbbbbb", linewidth=0.4))
            main, sub = cell_text(cell)
            marks = " ".join(cell["marks"])
            dark = st == "sig" and is_dark(face)
            colour = "white" if dark else ("#555555" if st in ("limited", "aa", "noise") else
                                           HINT.get(cell["verdict"], "black") if st == "hint" else "black")
            ax.text(j + 0.5, i + 0.36, main, ha="center", va="center", fontsize=7.5, color=colour,
                    fontweight="bold" if st in ("sig", "hint") else "normal")
            small = " ".join(x for x in (sub.split("\n")[0] if sub else "", marks) if x)
            ax.text(j + 0.5, i + 0.74, small, ha="center", va="center", fontsize=5.8, color=colour)
    ax.set_xlim(0, len(cols))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([j + 0.5 for j in range(len(cols))])
    ax.set_xticklabels([c["label"] for c in cols], fontsize=7.5, rotation=30, ha="left")
    ax.xaxis.tick_top()
    ax.set_yticks([i + 0.5 for i in range(len(rows))])
    ax.set_yticklabels([summary["labels"].get(m, m) for m in rows], fontsize=8.5)
    for sp in ax.spines.values():
        sp.set_visible(False)
    ax.tick_params(length=0)
    # Scenario names above their columns.
    start = 0
    for j in range(1, len(cols) + 1):
        if j == len(cols) or cols[j]["scenario"] != cols[start]["scenario"]:
            name = cols[start]["scenario"] + (" (CPU/msg ÷ ref)" if cols[start]["kind"] == "fixed_rate" else "")
            ax.annotate(name, ((start + j) / 2, -1.25), xycoords="data", ha="center", va="bottom", fontsize=8,
                        fontweight="bold", color="#333", annotation_clip=False)
            if j < len(cols):
                ax.axvline(j, color="#333", linewidth=1.2)
            start = j
    wrap = int(width * 15)
    ax.set_title(textwrap.fill(f"{title}; {interval_words(summary)}", wrap), fontsize=9, pad=58)
    legend = ("Closed loop: req/s ÷ {ref}; fixed rate: server CPU per message ÷ {ref} (lower is better). Blue cell: "
              "better, red: worse, on a 95% interval beyond the noise; blue/red text on white: the interval "
              "excludes 1 only at a lower confidence; grey text: inside the noise. Grey ≈: the loadgen was the "
              "limit, so near 1 means 'cannot tell apart', not 'equal'. ").format(ref=REFERENCE) + \
        floor_words(summary) + " Chips: " + \
        ", ".join(f"{code} {f.replace('_', '-')}" for f, code in CHIPS.items()) + "."
    ax.set_xlabel(textwrap.fill(legend, wrap), fontsize=7.5)
    return save(fig, out, stem, "Summary: each model against " + REFERENCE,
                f"Cells: the per-round paired ratio to {REFERENCE}, median [interval]; {interval_words(summary)}. "
                + legend)
