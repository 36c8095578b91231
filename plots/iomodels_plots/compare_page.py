#!/usr/bin/python3
"""The page of a `harness compare` or `harness ab` result: regressions first,
each with its interval, then every other case, and the same model panels as
the run report. Self-contained (works from file://, CI can publish it).

usage: /usr/bin/python3 plots/compare_page.py COMPARE_JSON OUT.html [--run HEAD_RUN_JSON]

COMPARE_JSON is iomodels.ab/1 (harness ab's ab.json) or iomodels.compare/1
(docs/design.md, "Compare and gate documents"). The panels come from --run, else head/run.json beside
an ab.json, else head.path when that names a run.json; without any the page
has no panels and says so. Exit 0 written, 2 bad usage or input."""
import argparse
import json
import os
import sys

from .report_data import index_cases
from .report_figures import headline_id
from .report_html import case_anchor, esc, page, panels_section, write_page
from .report_models_doc import load_models_doc
from .run_loader import P99, SERVER_CPU, THROUGHPUT, RunError, load_run
from .server_list import load_servers

ORDER = ["regression", "failed", "accepted", "improvement", "ok", "unchanged", "not gated", "only_base",
         "only_head"]
METRICS = [("cpu_ns_per_request", "CPU ns/req"), (SERVER_CPU, "CPU µs/req"), (P99, "p99"), (THROUGHPUT, "req/s")]
SCHEMAS = ("iomodels.compare/1", "iomodels.ab/1")


class BadInput(Exception):
    pass


def load_compare(path):
    try:
        with open(path) as f:
            cmp_ = json.load(f)
    except (OSError, ValueError) as e:
        raise BadInput(f"cannot read {path}: {e}")
    if cmp_.get("schema") not in SCHEMAS:
        raise BadInput(f"{path}: \"schema\" is {cmp_.get('schema')!r}, this page reads {' and '.join(SCHEMAS)}")
    if cmp_["schema"] == "iomodels.ab/1":
        cmp_.setdefault("kind", "ab")
        cmp_.setdefault("threshold", (cmp_.get("summary") or {}).get("cpu_threshold"))
    if cmp_.get("comparable") is False:
        cmp_.setdefault("cases", [])  # harness ab found no comparable base: a page that says so
    if not isinstance(cmp_.get("cases"), list):
        raise BadInput(f"{path}: \"cases\" must be a list")
    for i, c in enumerate(cmp_["cases"]):
        if not isinstance(c, dict) or not c.get("name"):
            raise BadInput(f"{path}: cases[{i}].name missing")
    return cmp_


def metric_cell(m):
    if not isinstance(m, dict) or m.get("ratio") is None:
        return '<td data-sort="">—</td>'
    iv = f' [{m["lo"]:.3f}–{m["hi"]:.3f}]' if m.get("lo") is not None and m.get("hi") is not None else ""
    p = m.get("p_holm", m.get("p"))
    p = f'<br><small>p{"(Holm)" if "p_holm" in m else ""}={p:.3g}</small>' if p is not None else ""
    b, h = m.get("base", m.get("base_median")), m.get("head", m.get("head_median"))
    base = f'<br><small>{b:,.1f} → {h:,.1f}</small>' if b is not None and h is not None else ""
    return f'<td data-sort="{m["ratio"]}">{m["ratio"]:.3f}×{iv}{p}{base}</td>'


def reason(c):
    acc = c.get("accepted_reason")
    return (c.get("reason", "") + (f" — accepted: {acc}" if acc else "")).strip(" —")


def rank(c):
    v = c.get("verdict", "unchanged")
    r = (c.get("metrics", {}).get(THROUGHPUT) or {}).get("ratio")
    return (ORDER.index(v) if v in ORDER else len(ORDER), r if r is not None else 0, c["name"])


def cases_table(cmp_, extra_names):
    present = {k for c in cmp_["cases"] for k in (c.get("metrics") or {})}
    metrics = [(k, h) for k, h in METRICS if k in present] or METRICS[2:]
    rows = []
    for c in sorted(cmp_["cases"], key=rank):
        v = c.get("verdict", "unchanged")
        flagged = v in ("regression", "failed", "accepted")
        rows.append(f'<tr id="{esc(case_anchor(c["name"]))}" class="{esc(v)}{" flagged" if flagged else ""}">'
                    f'<td class="l">{esc(c["name"])}</td><td class="l"><b>{esc(v)}</b></td>'
                    + "".join(metric_cell((c.get("metrics") or {}).get(k)) for k, _ in metrics)
                    + f'<td class="l">{esc(reason(c))}</td></tr>')
    for n in sorted(extra_names):
        rows.append(f'<tr id="{esc(case_anchor(n))}" class="skipped"><td class="l">{esc(n)}</td>'
                    f'<td class="l">not compared</td>' + "<td></td>" * len(metrics) + "<td></td></tr>")
    ths = ('<th class="l">case</th><th class="l">verdict</th>'
           + "".join(f"<th>{esc(h)} head/base [interval]</th>" for _, h in metrics)
           + '<th class="l">reason</th>')
    return f'<table class="cases sortable"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def counts_line(cmp_):
    n = {}
    for c in cmp_["cases"]:
        n[c.get("verdict", "unchanged")] = n.get(c.get("verdict", "unchanged"), 0) + 1
    parts = [f"{n[v]} {v.replace('_', ' ')}" for v in ORDER if n.get(v)]
    thr = cmp_.get("threshold")
    thr_s = f"; threshold {thr:.0%}" if isinstance(thr, (int, float)) else ""
    rule = cmp_.get("rule") or "A regression is a case whose interval lies wholly past the threshold"
    return (f'<p><b>{", ".join(parts) or "no cases"}</b> of {len(cmp_["cases"])} case(s){esc(thr_s)}. '
            f'{esc(rule)}; ratios are head/base'
            f'{", normalised to " + esc(cmp_["reference"]) + " measured in the same run" if cmp_.get("reference") else ""}.'
            f'</p>')


def head_run(cmp_, run_arg, cmp_path):
    """(run, path) of the head side, or (None, None)."""
    path = run_arg
    beside = os.path.join(os.path.dirname(os.path.abspath(cmp_path)), "head", "run.json")
    if not path and cmp_["schema"] == "iomodels.ab/1" and os.path.exists(beside):
        path = beside  # harness ab writes head/run.json beside ab.json
    if not path:
        hp = (cmp_.get("head") or {}).get("path")
        if hp:
            hp = hp if os.path.isabs(hp) else os.path.join(os.path.dirname(os.path.abspath(cmp_path)), hp)
            if (os.path.isfile(hp) and hp.endswith(".json")) or os.path.isdir(hp):
                path = hp
    return load_run(path) if path else None, path


def build(cmp_path, out_path, run_arg=None):
    cmp_ = load_compare(cmp_path)
    out_dir = os.path.dirname(os.path.abspath(out_path))
    run, run_path = head_run(cmp_, run_arg, cmp_path)
    names = {c["name"] for c in cmp_["cases"]}
    extra = set()
    if run:
        run_dir = run_path if os.path.isdir(run_path) else os.path.dirname(os.path.abspath(run_path))
        servers = load_servers(run_dir)
        by_id = index_cases(run)
        extra = {c["name"] for c in run["cases"]} - names
        models = servers.order({c["server"] for c in run["cases"]})
        panels = panels_section(models, servers, load_models_doc(), run, by_id, headline_id(run["cases"]),
                                out_dir)
    else:
        panels = '<p class="muted">No head run.json given (--run): no model panels.</p>'
    def side(k):
        d = cmp_.get(k) or {}
        return d.get("label") or d.get("path") or d.get("spec") or d.get("sha") or "?"
    header = (f'<p>{esc(cmp_.get("kind", "compare"))}: base <b>{esc(side("base"))}</b> → head <b>{esc(side("head"))}</b>.'
              f' Data: <a href="{esc(os.path.relpath(os.path.abspath(cmp_path), out_dir))}">'
              f'{esc(os.path.basename(cmp_path))}</a>.</p>')
    regress = [c for c in cmp_["cases"] if c.get("verdict") == "regression"]
    if cmp_.get("comparable") is False:
        header += f'<p><b>No comparable base:</b> {esc(cmp_.get("reason", ""))}. Nothing was gated.</p>'
    lead = ("<p>No regression.</p>" if not regress else
            "<ol>" + "".join(f'<li><a href="#{esc(case_anchor(c["name"]))}">{esc(c["name"])}</a>: '
                             f'{esc(reason(c))}</li>' for c in sorted(regress, key=rank)) + "</ol>")
    sections = [("verdict", "Verdict", counts_line(cmp_) + lead),
                ("cases", "Every case, regressions first", cases_table(cmp_, extra)),
                ("models", "The models", panels)]
    text = page(f"iomodels {cmp_.get('kind', 'compare')}: {side('base')} → {side('head')}", header, sections)
    write_page(out_path, text)
    return len(regress)


def main(argv):
    ap = argparse.ArgumentParser(prog="compare_page.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("compare_json")
    ap.add_argument("out_html")
    ap.add_argument("--run", help="the head run.json (or its folder) for the model panels")
    a = ap.parse_args(argv[1:])  # bad usage: exit 2 with the usage line
    try:
        n = build(a.compare_json, a.out_html, a.run)
    except (BadInput, RunError) as e:
        print(f"compare_page.py: {e}", file=sys.stderr)
        return 2
    print(f"compare_page.py: {n} regression(s); wrote {os.path.abspath(a.out_html)}")
    return 0

