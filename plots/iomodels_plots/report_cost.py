"""The report's cost section (the cost groups): models compared at equal delivered
load, not at saturation.

- a heatmap of server CPU µs per message ÷ epoll_lt's, paired by round, one
  column per fixed-load scenario (suite groups named cost*), with the A/A row
  (a second copy of epoll_lt) as the noise floor; a cell is coloured only when
  its interval (95% or more) excludes 1 AND its effect is larger than the A/A
  row's in that scenario; a pooled column bootstraps rounds;
- a table per model: callgrind instructions per message (run.callgrind) and
  kernel-counted syscalls per message by name (the cost scenarios' rounds);
- the fractions of the run's cases that were client_limited / co_saturated,
  and what a ratio means under each label.
"""
import math
import random
import statistics

from .report_data import REFERENCE, usable
from .run_loader import SERVER_CPU, round_value, row_of
from .report_fig_common import WIDTH, plt, save
from .report_html import esc
from .report_heatmap import cell_colour, is_dark

METRIC = SERVER_CPU
BOOTSTRAP = 2000


def is_cost_case(c):
    return str(c.get("group", "")).startswith("cost")


def _cpu_by_round(c):
    out = {}
    for i, r in enumerate(c.get("repetitions", [])):
        if r.get("status") == "failed":
            continue
        v = round_value(r, SERVER_CPU)
        if v:
            out[r.get("round", r.get("repetition", i))] = v
    return out


def _reference(c, cases):
    for o in cases:
        if (o.get("server") == REFERENCE and not o.get("aa") and o.get("group") == c.get("group")
                and o["case_id"] == c["case_id"]):
            return o
    return None


def _ratios_by_round(c, cases):
    """{round: cpu(c)/cpu(reference)} over the rounds both have."""
    ref = _reference(c, cases)
    if ref is None:
        return {}
    mine, theirs = _cpu_by_round(c), _cpu_by_round(ref)
    return {k: v / theirs[k] for k, v in mine.items() if theirs.get(k)}


def _interval(c, ratios):
    pr = (c.get("aggregate", {}).get("paired_ratio") or {}).get(METRIC)
    if isinstance(pr, dict) and pr.get("median") is not None:
        return pr["median"], pr.get("lo", pr.get("min")), pr.get("hi", pr.get("max")), pr.get("confidence", 0), pr.get("n", 0)
    if not ratios:
        return None
    v = sorted(ratios.values())
    return statistics.median(v), v[0], v[-1], 1 - 2 * 0.5 ** len(v), len(v)


def _pooled(per_case_rounds, seed=20):
    """Bootstrap over rounds of the median case ratio: resample the rounds,
    take each case's median over them, then the median over cases.
    Returns (estimate, lo, hi) at 95%, or None with too few rounds."""
    rounds = sorted(set().union(*[set(r) for r in per_case_rounds])) if per_case_rounds else []
    if len(rounds) < 5:
        return None

    def stat(sample):
        meds = []
        for rr in per_case_rounds:
            vals = [rr[k] for k in sample if k in rr]
            if vals:
                meds.append(statistics.median(vals))
        return statistics.median(meds) if meds else None

    rng = random.Random(seed)
    draws = sorted(x for x in (stat([rng.choice(rounds) for _ in rounds]) for _ in range(BOOTSTRAP)) if x)
    if not draws:
        return None
    return stat(rounds), draws[int(0.025 * len(draws))], draws[int(0.975 * len(draws)) - 1]


def cost_cells(run, servers):
    """{"rows": [...], "cols": [...], "cells": {(row, col): {...}}, "aa": {col: median}}."""
    cases = [c for c in run.get("cases", []) if is_cost_case(c)]
    cols = []
    for c in cases:
        if c["case_id"] not in cols:
            cols.append(c["case_id"])
    cells, per_row_rounds = {}, {}
    for c in cases:
        if not usable(c) or c.get("role") == "group_reference":
            continue
        row = "A/A (epoll_lt again)" if c.get("aa") else row_of(c)
        ratios = _ratios_by_round(c, cases)
        if row_of(c) == REFERENCE and not c.get("aa"):
            continue  # the reference is the yardstick, 1 by construction
        iv = _interval(c, ratios)
        if not iv:
            continue
        med, lo, hi, conf, n = iv
        sat = any((r.get("flags") or {}).get("saturated") for r in c.get("repetitions", []))
        cells[(row, c["case_id"])] = {"median": med, "lo": lo, "hi": hi, "confidence": conf, "n": n,
                                    "saturated": sat}
        per_row_rounds.setdefault(row, []).append(ratios)
    aa = {col: cells[("A/A (epoll_lt again)", col)]["median"] for col in cols
          if ("A/A (epoll_lt again)", col) in cells}
    for (row, col), cell in cells.items():
        floor = abs(math.log(aa[col])) if col in aa else 0.0
        excludes = cell["confidence"] >= 0.95 and (cell["lo"] > 1 or cell["hi"] < 1)
        cell["shown"] = excludes and abs(math.log(cell["median"])) > floor and row != "A/A (epoll_lt again)"
    for row, rr in per_row_rounds.items():
        p = _pooled(rr)
        if p:
            est, lo, hi = p
            excludes = lo > 1 or hi < 1
            cells[(row, "pooled")] = {"median": est, "lo": lo, "hi": hi, "confidence": 0.95, "n": None,
                                      "shown": excludes and row != "A/A (epoll_lt again)", "pooled": True}
        else:
            vals = [cells[(row, col)]["median"] for col in cols if (row, col) in cells]
            if vals:
                cells[(row, "pooled")] = {"median": None, "lo": min(vals), "hi": max(vals), "shown": False,
                                          "range_only": True}
    rows = servers.order({r for r, _ in cells if r != "A/A (epoll_lt again)"})
    if any(r == "A/A (epoll_lt again)" for r, _ in cells):
        rows = ["A/A (epoll_lt again)"] + rows
    return {"rows": rows, "cols": cols + (["pooled"] if cols else []), "cells": cells, "aa": aa}


def fig_cost_heatmap(cc, out, title):
    rows, cols, cells = cc["rows"], cc["cols"], cc["cells"]
    if not rows or not cols:
        return None
    fig, ax = plt.subplots(figsize=(min(WIDTH, 2.2 + 2.3 * len(cols)), 0.9 + 0.42 * len(rows)))
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            cell = cells.get((row, col))
            if not cell:
                ax.add_patch(plt.Rectangle((j, i), 1, 1, color="#eeeeee"))
                continue
            if cell.get("range_only"):
                colour, text = (1, 1, 1, 1), f"{cell['lo']:.2f}–{cell['hi']:.2f}\n(range)"
            else:
                # Blue: cheaper than epoll_lt; red: costlier. Pale unless shown.
                colour = cell_colour(1 / cell["median"]) if cell["shown"] else (0.96, 0.96, 0.96, 1)
                text = f"{cell['median']:.2f}\n[{cell['lo']:.2f}, {cell['hi']:.2f}]"
                if cell.get("saturated"):
                    text += " S"
            ax.add_patch(plt.Rectangle((j, i), 1, 1, color=colour))
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=7.5,
                    color="white" if is_dark(colour) else "black")
    ax.set_xlim(0, len(cols))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([j + 0.5 for j in range(len(cols))], cols, fontsize=8)
    ax.set_yticks([i + 0.5 for i in range(len(rows))], rows, fontsize=8)
    ax.set_title(title, fontsize=9)
    caption = ("Server CPU µs per message ÷ epoll_lt's, paired by round, at the same offered rate (open loop); "
               "median [interval] over the rounds. A cell is coloured only when its interval (≥95%) excludes 1 "
               "and its effect exceeds the A/A row's (epoll_lt against itself) in that scenario. "
               "Pooled: bootstrap over rounds of the median case ratio (95%); a range where there are too few "
               "rounds. S: the offered rate was missed by more than 1% in a round.")
    return save(fig, out, "cost_heatmap", "Cost per message at equal delivered load", caption)


def _flag_fractions(run):
    cases = [c for c in run.get("cases", []) if usable(c)]
    n = len(cases)
    cl = sum(1 for c in cases if (c.get("flags") or {}).get("client_limited"))
    co = sum(1 for c in cases if (c.get("flags") or {}).get("co_saturated"))
    return n, cl, co


def _syscall_text(ks):
    if not ks:
        return "—"
    names = sorted(ks.get("by_name", {}).items(), key=lambda kv: -kv[1])
    return (f"<b>{ks.get('total', 0):.2f}</b>: " +
            ", ".join(f"{esc(k)} {v:.2f}" for k, v in names if v >= 0.005))


def cost_table(run, servers):
    cg = run.get("callgrind") or {}
    workloads = list(cg.get("workloads", [])) if cg.get("available") else []
    cases = [c for c in run.get("cases", []) if is_cost_case(c) and usable(c) and not c.get("aa")
             and c.get("role") != "group_reference"]
    headline = cases[0]["case_id"] if cases else None
    models = servers.order({row_of(c) for c in cases} | set((cg.get("servers") or {}).keys()))
    head = "".join(f"<th>callgrind instr/msg<br>{esc(w)}</th>" for w in workloads)
    rows = []
    for m in models:
        cgrow = (cg.get("servers") or {}).get(m, {})
        cells = ""
        for w in workloads:
            r = cgrow.get(w, {})
            cells += (f"<td>{r['instructions_per_message']:.0f}</td>" if "instructions_per_message" in r
                      else f"<td title=\"{esc(r.get('error', ''))}\">n/a</td>")
        ks = next((c["aggregate"].get("kernel_syscalls_per_message") for c in cases
                   if row_of(c) == m and c["case_id"] == headline), None)
        unseen = ", ".join(ks.get("server_unseen", [])) if ks else ""
        rows.append(f"<tr><td>{esc(m)}</td>{cells}<td>{_syscall_text(ks)}</td><td>{esc(unseen)}</td></tr>")
    if not rows:
        return ""
    note = ("" if workloads else
            f"<p>No callgrind table: {esc(cg.get('reason', 'the suite has no callgrind entry'))}.</p>")
    return (f"{note}<table class=\"cost\"><tr><th>model</th>{head}<th>kernel-counted syscalls per message at "
            f"{esc(headline or '?')} (total: by name, median over rounds)</th>"
            f"<th>syscalls the server's own counters do not see</th></tr>{''.join(rows)}</table>"
            "<p>Instructions: user space only, exact (valgrind callgrind, the difference of two fixed "
            "request counts). Syscalls: counted by the kernel's syscalls:sys_enter_* tracepoints for the "
            "server's threads over the measured window.</p>")


def cost_section(run, servers, out_dir):
    """HTML of the cost section, and the figure (or None), or (None, None)
    when the run has no fixed-load scenario and no callgrind table."""
    cc = cost_cells(run, servers)
    has_table = bool((run.get("callgrind") or {}).get("servers"))
    if not cc["rows"] and not has_table:
        n, cl, co = _flag_fractions(run)
        return (_labels_html(n, cl, co), None) if n else (None, None)
    fig = fig_cost_heatmap(cc, out_dir, "Server CPU per message ÷ epoll_lt at equal offered load")
    n, cl, co = _flag_fractions(run)
    parts = []
    if fig:
        parts.append(f'<figure id="fig-{fig.stem}"><a href="{fig.stem}.png"><img src="{fig.stem}.png" '
                     f'alt="{esc(fig.title)}"></a><figcaption><b>{esc(fig.title)}.</b> {esc(fig.caption)} '
                     f'(<a href="{fig.stem}.svg">SVG</a>)</figcaption></figure>')
    parts.append(cost_table(run, servers))
    parts.append(_labels_html(n, cl, co))
    return "\n".join(p for p in parts if p), fig


def _labels_html(n, cl, co):
    if not n:
        return ""
    return (f"<p id=\"saturation-labels\"><b>Saturation labels.</b> Of {n} cases, {cl} ({cl / n:.0%}) are "
            f"<b>client_limited</b> (the loadgen ≥ 90% busy, the server &lt; 80%) and {co} ({co / n:.0%}) "
            f"<b>co_saturated</b> (both) in at least one round. Under client_limited a req/s ratio says how "
            f"the loadgen fared, not the server; under co_saturated req/s is 1 / max(client cost, server "
            f"cost), so a ratio near 1 means <i>not told apart here</i>, never <i>equal</i>. Compare such "
            f"models by the cost at equal load above.</p>")
