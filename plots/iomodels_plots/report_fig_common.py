"""What every figure shares: matplotlib set-up, saving PNG + SVG, markers,
and a legend grouped by family so thirteen-odd models read as five groups."""
import os
import sys

try:
    import matplotlib
    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
except ImportError:
    print("plot.py: matplotlib is missing: install python3-matplotlib "
          "(and run this with /usr/bin/python3)", file=sys.stderr)
    sys.exit(2)

MARKERS = "osD^v<>phH*Xd8P+"
WIDTH = 13.0  # inches at 110 dpi: about 1430 px, the page shows it full width


class Figure:
    """One saved figure: stem (file name without extension), title, a caption
    that states case, units and rounds, and whether an SVG was written."""

    def __init__(self, stem, title, caption, svg=True):
        self.stem, self.title, self.caption, self.svg = stem, title, caption, svg


def save(fig, out, stem, title, caption, svg=True, margins=None):
    # tight_layout costs a second a figure; figures of one fixed shape (the
    # spectra, one per case) pass their margins instead.
    if margins:
        fig.subplots_adjust(**margins)
    else:
        fig.tight_layout()
    fig.savefig(os.path.join(out, f"{stem}.png"), dpi=110)
    if svg:
        fig.savefig(os.path.join(out, f"{stem}.svg"))
    plt.close(fig)
    return Figure(stem, title, caption, svg)


def marker(servers, model):
    order = servers.order(servers.names + [model])
    return MARKERS[order.index(model) % len(MARKERS)]


def family_legend(ax, servers, models):
    """Legend outside the axes (inside, it hides a curve), one heading per
    family, models in family order."""
    handles = []
    fam = None
    for m in servers.order(models):
        if servers.family(m) != fam:
            fam = servers.family(m)
            handles.append(Line2D([], [], linestyle="none", label=fam.upper()))
        handles.append(Line2D([], [], color=servers.colour(m), marker=marker(servers, m), label=m))
    leg = ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    for t in leg.get_texts():
        if t.get_text().isupper():
            t.set_fontweight("bold")


def rounds_text(cases):
    ns = sorted({len(c.get("repetitions", [])) for c in cases})
    if not ns:
        return "no rounds"
    return f"{ns[0]} round{'s' if ns[0] != 1 else ''}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]} rounds"


def family_positions(servers, models, gap=0.6):
    """x positions for bars with a gap between families; also the family
    label positions, so bar charts read by family."""
    xs, labels, x, fam, start = [], [], 0.0, None, 0.0
    for m in models:
        f = servers.family(m)
        if fam is not None and f != fam:
            labels.append(((start + x - 1) / 2, fam))
            x += gap
            start = x
        fam = f
        xs.append(x)
        x += 1
    if fam is not None:
        labels.append(((start + x - 1) / 2, fam))
    return xs, labels


def family_axis(ax, servers, models, xs, labels):
    ax.set_xticks(xs)
    ax.set_xticklabels(models, rotation=35, ha="right", fontsize=8)
    for pos, fam in labels:
        ax.annotate(fam, (pos, 1.0), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                    fontsize=8, fontweight="bold", color="#444")
