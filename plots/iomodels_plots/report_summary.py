"""The summary's data: one column per case (a connection count is a column of
its own, so c4 is not averaged with c16), the metric each column can honestly
show, the A/A noise floor per column, and one judged cell per row and column.

- A closed-loop column shows the paired req/s ratio to the reference.
- A fixed-rate column (open loop: req/s equals the offered rate by
  construction) shows the server CPU per message ratio, and the p99 ratio
  beside it; never req/s.
- A cell is coloured only when its interval excludes 1 and its effect is
  larger than the A/A row's in that column (the noise floor). A cell whose
  case was client-limited or co-saturated is grey ("≈") unless it is a clear
  loss: a ratio near 1 there means "cannot tell apart with this client".
- Variants (server_args) are rows of their own table, each beside its model;
  one whose arguments are the defaults is labelled "(= default)"."""
import math

from .report_data import (REFERENCE, is_aa, is_cost_group, is_variant, paired_ratio, rounds, row_label, scenario,
                         usable)
from .run_loader import P99, SERVER_CPU, row_of
from .report_flags import CHIPS, flags, limited

SCENARIO_ORDER = ["fixed load", "concurrency", "idle", "message size", "pipeline", "protocol", "rate", "churn",
                  "other"]


def _size_label(size):
    s = str(size)
    if s.isdigit() and int(s) >= 1024 and int(s) % 1024 == 0:
        return f"{int(s) // 1024} KiB"
    return f"{s} B"


def column_of(c):
    """{"id", "scenario", "label", "kind", "sort"} of a case's column."""
    p = c.get("params", {})
    s = "fixed load" if is_cost_group(c) else scenario(p)
    conns = p.get("connections", 0)
    if s in ("rate", "fixed load"):
        label, kind = f"{p['rate'] / 1000:g}k req/s", "fixed_rate"
        if is_cost_group(c):
            label = f"{p['rate'] / 1000:g}k/s {_size_label(p.get('size', 64))} c{conns}" + (
                f" +{p['idle_connections']} idle" if p.get("idle_connections") else "")
    else:
        kind = "throughput"
        label = {"concurrency": f"c{conns}", "idle": f"c{conns} +{p.get('idle_connections', 0)} idle",
                 "message size": _size_label(p.get("size")), "pipeline": f"×{p.get('pipeline')} c{conns}",
                 "protocol": f"{p.get('protocol')} c{conns}"}.get(s, c["case_id"])
    size = str(p.get("size", "64"))
    key = (SCENARIO_ORDER.index(s) if s in SCENARIO_ORDER else 99, p.get("rate", 0) or 0,
           int(size) if size.isdigit() else 0, conns, c["case_id"])
    return {"id": c["case_id"], "scenario": s, "label": label, "kind": kind, "sort": key}


def judge(r, floor, lower_better=False):
    """"better" / "worse" only when the interval excludes 1 and the effect is
    beyond the noise floor (|log ratio| > floor); else "same"; "none" when
    there is no interval (fewer than two rounds)."""
    if not r or (r.get("n") or 0) < 2 or not r.get("median"):
        return "none"
    if not (r["lo"] > 1 or r["hi"] < 1) or abs(math.log(r["median"])) <= floor:
        return "same"
    return "better" if (r["median"] > 1) != lower_better else "worse"


def case_metric(c, by_id, kind):
    """(ratio, p99 ratio or None, lower_better) for a case in a column."""
    if kind == "fixed_rate":
        return paired_ratio(c, by_id, SERVER_CPU), paired_ratio(c, by_id, P99), True
    return paired_ratio(c, by_id), None, False


def noise_floors(run, by_id, columns):
    """{column id: |log ratio| of the A/A row there}, plus "source"."""
    floors = {}
    for col in columns:
        aa = [c for c in run["cases"] if is_aa(c) and c["case_id"] == col["id"] and usable(c)]
        if aa:
            r = case_metric(aa[0], by_id, col["kind"])[0]
            if r and r.get("median"):
                floors[col["id"]] = abs(math.log(r["median"]))
    return floors


def make_cell(c, col, by_id, floor):
    marks = [CHIPS[f] for f, _ in flags(c) if f in CHIPS]
    cell = {"case": c, "marks": marks, "flags": flags(c), "state": "none", "value": None, "r": None, "p99": None,
            "verdict": "none", "lower_better": col["kind"] == "fixed_rate", "rounds": rounds(c)}
    if row_of(c) == REFERENCE:
        cell["state"] = "ref"
        return cell
    if not usable(c):
        cell["state"] = "failed" if c.get("status") == "failed" else "none"
        return cell
    r, p99, lower = case_metric(c, by_id, col["kind"])
    if not r:
        return cell
    cell.update(r=r, p99=p99, value=r["median"], verdict=judge(r, floor, lower))
    if is_aa(c):
        cell["state"] = "aa"
    elif col["kind"] == "throughput" and limited(c) and cell["verdict"] != "worse":
        cell["state"] = "limited"  # near 1 (or above) with the client as the limit: cannot tell apart
    elif cell["verdict"] in ("better", "worse"):
        # Coloured only on a 95% interval (the 95% colour rule); a narrower one
        # (min-max of 3 rounds is ~75%) shows its direction in the text only.
        conf = r.get("confidence")
        cell["state"] = "sig" if conf is not None and conf >= 0.95 else "hint"
    else:
        cell["state"] = "noise"
    return cell


def summary_cells(run, servers, by_id):
    """{"columns", "rows", "variant_rows", "cells": {(row, column id): cell},
    "floors", "has_aa", "confidence", "labels": {row: label}}."""
    cols = {}
    for c in run["cases"]:
        if not is_variant(c):
            col = column_of(c)
            cols.setdefault(col["id"], col)
    columns = sorted(cols.values(), key=lambda col: col["sort"])
    floors = noise_floors(run, by_id, columns)
    cells, confs, members = {}, set(), {}
    for c in run["cases"]:
        cid = c["case_id"]
        col = cols.get(cid) or column_of(c)
        row = row_of(c)
        members.setdefault(row, []).append(c)
        cell = make_cell(c, col, by_id, floors.get(cid, 0.0))
        cell["column"] = col
        if cell["r"]:
            confs.add(cell["r"].get("confidence"))
        cells[(row, cid)] = cell
    base = [m for m in servers.order({row_of(c) for c in run["cases"] if not is_variant(c) and not is_aa(c)})]
    aa_rows = sorted({row_of(c) for c in run["cases"] if is_aa(c)})
    rows = []
    for m in base:
        rows.append(m)
        if m == REFERENCE:
            rows += aa_rows
    rows += [r for r in aa_rows if r not in rows]
    var_rows = servers.order({row_of(c) for c in run["cases"] if is_variant(c) and not is_aa(c)})
    var_cols = sorted({col["id"]: col for (row, _), cell in cells.items() if row in var_rows
                       for col in [cell["column"]]}.values(), key=lambda col: col["sort"])
    return {"columns": columns, "rows": rows, "variant_rows": var_rows, "variant_columns": var_cols,
            "cells": cells, "floors": floors, "has_aa": bool(aa_rows), "confidence": confs - {None},
            "labels": {r: row_label(r, members.get(r, [])) for r in rows + var_rows},
            "rounds": sorted({cell["rounds"] for cell in cells.values() if cell["rounds"]})}


def cell_text(cell):
    """(main line, second line) of a cell, shared by the page and the image."""
    st, r = cell["state"], cell["r"]
    if st == "ref":
        return "ref", ""
    if st == "failed":
        return "failed", ""
    if not r:
        return "—", ""
    iv = f"[{r['lo']:.2f}–{r['hi']:.2f}]" if (r.get("n") or 0) >= 2 else "(1 round)"
    main = f"{r['median']:.2f}×"
    if cell["lower_better"] and cell["p99"]:
        iv += f"\np99 {cell['p99']['median']:.2f}×"  # the column heading says the main figure is CPU/msg
    if st == "limited":
        main = f"≈ {r['median']:.2f}×"
    return main, iv


def interval_words(summary):
    """How the intervals were made, with their confidence, for captions."""
    confs = sorted(c for c in summary["confidence"] if c)  # one round records confidence 0: no interval
    ns = summary["rounds"]
    rnd = (f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]}") if ns else "?"
    if ns and ns[-1] < 2:
        return f"{rnd} round: no interval, so nothing is coloured"
    if confs:
        conf = "/".join(f"{c:.0%}" for c in confs)
        return f"{rnd} rounds; interval: {conf} confidence"
    return f"{rnd} rounds; interval: min–max of the per-round ratios (confidence not recorded)"


def floor_words(summary):
    if not summary["has_aa"]:
        return "This run has no A/A row, so the noise floor is unknown (taken as 0)."
    fl = summary["floors"].values()
    missing = [c["label"] for c in summary["columns"] if c["id"] not in summary["floors"]]
    tail = (f" Columns the A/A row did not run ({len(missing)} of {len(summary['columns'])}) have no measured floor "
            f"(taken as 0)." if missing else "")
    return (f"A/A row: a second copy of {REFERENCE}; its ratio is the noise floor of its column "
            f"(here {min(fl) * 100:.0f}–{max(fl) * 100:.0f}%).{tail}") if fl else ""
