"""HTML pieces the results page and the compare page share: the page shell
(CSS and JS inlined, so it works from file:// with nothing from the network),
the summary heatmap with its takeaways, and one panel per model."""
import html
import os

from matplotlib.colors import to_hex

from . import ROOT
from .report_data import REFERENCE, cost_per_message, paired_ratio, usable
from .run_loader import SERVER_CPU
from .server_list import model_of
from .report_flags import CHIPS, FLAG_MEANING
from .report_rules import best_worst, verdict
from .report_heatmap import cell_colour, is_dark
from .report_summary import cell_text, floor_words, interval_words

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report_assets")


def esc(s):
    return html.escape(str(s), quote=True)


def asset(name):
    with open(os.path.join(ASSETS, name), encoding="utf-8") as f:
        return f.read()


def page(title, header, sections):
    """sections: [(id, heading, html)]."""
    nav = " ".join(f'<a href="#{esc(i)}">{esc(h)}</a>' for i, h, _ in sections)
    body = "\n".join(f'<section id="{esc(i)}"><h2>{esc(h)}</h2>\n{s}\n</section>' for i, h, s in sections)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)}</title>\n<style>\n{asset("report.css")}</style></head>\n<body>\n'
            f'<header><h1>{esc(title)}</h1>{header}<nav>{nav}</nav></header>\n{body}\n'
            f'<script>\n{asset("report.js")}</script>\n</body></html>\n')


def write_page(path, text):
    """Whole or not at all: a reader never opens half a page."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def case_anchor(name):
    return "case-" + name


def case_link(c, text=None):
    # A variant's cases carry its arguments: "[--setup plain] echo/c16/s64".
    variant = f"[{c['variant']}]" if c["variant"] else ""
    return f'<a href="#{esc(case_anchor(c["name"]))}">{esc(text or (variant + " " + c["case_id"]).strip())}</a>'


def ratio_text(r):
    if not r:
        return "—"
    if r["source"] == "reference":
        return "reference"
    if (r.get("n") or 0) < 2:
        return f'{r["median"]:.2f}× (1 round)'
    return f'{r["median"]:.2f}× [{r["lo"]:.2f}–{r["hi"]:.2f}]'


def ratio_class(r):
    """better / worse only when a whole interval of two rounds or more says so."""
    if not r or (r.get("n") or 0) < 2:
        return "none"
    return verdict(r["median"], r["lo"], r["hi"])


def chip(code, sentence):
    return f'<span class="chip" title="{esc(sentence)}">{esc(code)}</span>'


def _heat_cell(cell, colour_of):
    st, c = cell["state"], cell["case"]
    main, sub = cell_text(cell)
    tip = f'{c["name"]}: {c.get("status", "")}'
    if cell["r"]:
        tip += f' — {cell["r"]["source"]}'
    tip += "".join(f" — {f}: {why}" for f, why in cell["flags"])
    cls, style = [st] + ([cell["verdict"]] if st == "hint" else []), ""
    if st == "sig":
        rgba = colour_of(cell["value"] if not cell["lower_better"] else 1 / cell["value"])
        style = f' style="background-color:{to_hex(rgba)}"'
        if is_dark(rgba):
            cls.append("dark")
    marks = " ".join(cell["marks"])
    chips = "".join(chip(CHIPS[f], f"{f}: {why}") for f, why in cell["flags"] if f in CHIPS)
    sub_html = "".join(f"<br><small>{esc(x)}</small>" for x in sub.split("\n") if x)
    return (f'<td class="{" ".join(cls)}"{style} title="{esc(tip)}" data-marks="{esc(marks)}" '
            f'data-state="{esc(st)}" data-cases="{esc(c["name"])}"><a href="#{esc(case_anchor(c["name"]))}">'
            f'{esc(main)}{sub_html}</a>{chips}</td>')


def heat_table(summary, rows, columns, css="heat"):
    groups = []
    for col in columns:
        name = col["scenario"] + (": CPU/msg and p99 ÷ ref" if col["kind"] == "fixed_rate" else "")
        if groups and groups[-1][0] == name:
            groups[-1][1] += 1
        else:
            groups.append([name, 1])
    head1 = "".join(f'<th colspan="{n}" class="grp">{esc(g)}</th>' for g, n in groups)
    head2 = "".join(f'<th title="{esc(col["id"])}">{esc(col["label"])}</th>' for col in columns)
    body = []
    for m in rows:
        tds = []
        for col in columns:
            cell = summary["cells"].get((m, col["id"]))
            tds.append(_heat_cell(cell, cell_colour) if cell else '<td class="none"></td>')
        label = summary["labels"].get(m, m)
        body.append(f'<tr><th><a href="#model-{esc(model_of(m))}">{esc(label)}</a></th>{"".join(tds)}</tr>')
    return (f'<div class="scroll"><table class="{css}"><thead><tr><th rowspan="2">model</th>{head1}</tr>'
            f'<tr>{head2}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def flag_legend():
    return "<dl class=\"flag-legend\">" + "".join(
        f"<dt data-legend=\"{esc(code)}\">{chip(code, FLAG_MEANING[f])}</dt><dd><b>{esc(f.replace('_', '-'))}</b>: {esc(FLAG_MEANING[f])}</dd>"
        for f, code in CHIPS.items()) + "</dl>"


def summary_section(summary, sentences, figure=None):
    items = "".join(
        f"<li>{esc(s)}" + (" <span class=\"muted\">(" + ", ".join(
            f'<a href="#{esc(case_anchor(n))}">{esc(n)}</a>' for n in names) + ")</span>" if names else "")
        + "</li>" for s, names in sentences)
    img = (f' <a href="{esc(figure.stem)}.png">image</a>, <a href="{esc(figure.stem)}.svg">SVG</a>.'
           if figure else "")
    variants = ""
    if summary["variant_rows"]:
        vrows = []
        for v in summary["variant_rows"]:
            if model_of(v) not in vrows:
                vrows.append(model_of(v))
            vrows.append(v)
        variants = (f'<h3 id="variants">Settings studies (variants)</h3><p class="muted">Each model run with other '
                    f'arguments, under its own row as built by default; same ratios and rules as above. A row '
                    f'marked "(= default)" has the very settings of the row above it: any difference between '
                    f'the two is noise.</p>' + heat_table(summary, vrows, summary["variant_columns"], "heat small"))
    take = (f'<div class="takeaways"><h3>What to take away</h3><ol>'
            f'{items or "<li>No rule had the data it needs in this run.</li>"}</ol><p class="muted">Written by '
            f'rules from this run\'s data (plots/iomodels_plots/report_rules.py).</p></div>')
    return (f'<div class="summary">{take}<div class="heatwrap">'
            f'{heat_table(summary, summary["rows"], summary["columns"])}'
            f'<p class="lede"><b>How to read a cell:</b> the model\'s ratio to {REFERENCE}, measured in the same '
            f'round (paired), with its interval ({esc(interval_words(summary))}). Closed-loop columns: req/s '
            f'(blue: more than {REFERENCE}). Fixed-rate columns: the server CPU per message and the p99 (req/s '
            f'equals the offered rate there by construction; blue: cheaper). A cell is coloured only when its '
            f'95% interval excludes 1 and its effect is beyond the noise; blue or red <i>text</i> on white: the '
            f'interval excludes 1 only at a lower confidence. {esc(floor_words(summary))} '
            f'Grey <b>≈</b>: the loadgen was the limit (chips CL, CS), so a ratio near 1 means "cannot tell '
            f'apart with this client", not "equal"; a clear loss there is still shown. Grey text: inside the '
            f'noise. Click a cell for its case; hover a chip for its reason.{img}</p>'
            f'{flag_legend()}{variants}</div></div>')


def source_link(servers, model, out_dir):
    src = servers.source_file(model)
    path = os.path.join(ROOT, src)
    if os.path.exists(path):
        return f'<a href="{esc(os.path.relpath(path, out_dir))}">{esc(src)}</a>'
    return f"<code>{esc(src)}</code>"


def cost_table(cpm, kernel=None):
    """Per message: the server's own counts, and beside them the kernel's
    (kernel syscall tracepoints) when the run has them."""
    if not cpm:
        return '<p class="muted">No cost per message: this case has no server counters.</p>'
    kb = (kernel or {}).get("by_name") or {}
    names = sorted(set(cpm["syscalls"]) | set(kb), key=lambda n: (-max(cpm["syscalls"].get(n, 0), kb.get(n, 0)), n))

    def k(n):
        return f"<td>{kb[n]:.2f}</td>" if n in kb else ("<td>—</td>" if kernel else "")
    rows = [f"<tr><td>{esc(n)}</td><td>{cpm['syscalls'].get(n, 0.0):.2f}</td>{k(n)}</tr>"
            for n in names if max(cpm["syscalls"].get(n, 0), kb.get(n, 0)) >= 0.005]
    pad = "<td></td>" if kernel else ""

    def num(key, fmt="{:.2f}"):
        v = cpm.get(key)
        return "—" if v is None else fmt.format(v)
    total_k = (f"<th>{kernel['total']:.2f}</th>" if kernel and kernel.get("total") is not None
               else ("<th>—</th>" if kernel else ""))
    rows += [f'<tr><th>syscalls, all</th><th>{num("syscalls_total")}</th>{total_k}</tr>',
             f'<tr><td>wakeups</td><td>{num("wakeups")}</td>{pad}</tr>',
             f'<tr><td>events</td><td>{num("events")}</td>{pad}</tr>',
             f'<tr><td>context switches</td><td>{num("context_switches")}</td>{pad}</tr>',
             f'<tr><td>server CPU µs</td><td>{num("cpu_us")}</td>{pad}</tr>']
    head = "<th>server's count</th><th>kernel's count</th>" if kernel else "<th></th>"
    return (f'<table><tr><th>per message</th>{head}</tr>{"".join(rows)}</table>'
            f'<p class="muted">Counts from {esc(cpm.get("source", ""))}'
            f'{"; kernel: syscall tracepoints, server process only" if kernel else ""}.</p>')


def callgrind_line(run, model):
    """User-space instructions per message (run.callgrind), or ""."""
    cg = run.get("callgrind") or {}
    per = (cg.get("servers") or {}).get(model) or {}
    if not per:
        return (f'<p class="muted">No instruction counts: {esc(cg["reason"])}.</p>'
                if cg.get("available") is False and cg.get("reason") else "")
    items = ", ".join(f"{esc(k)} {v['instructions_per_message']:,.0f}" for k, v in sorted(per.items())
                      if isinstance(v, dict) and v.get("instructions_per_message") is not None)
    return f"<p>User-space instructions per message (callgrind, exact): {items}.</p>" if items else ""


def model_panel(model, servers, docs, run, by_id, headline, out_dir, logs=()):
    doc = docs.get(model)
    colour = servers.colour(model)
    if doc:
        what = "".join(f'<p class="what">{esc(l)}</p>' for l in doc["lines"])
        seq = (f'<p>Per message: <span class="seq">{esc(doc["per_message"])}</span> '
               f'{esc(doc["note"])}</p>') if doc["per_message"] else ""
    else:
        what, seq = f'<p class="muted">docs/models.md has no section "## {esc(model)}".</p>', ""
    hc = by_id.get((model, headline)) if headline else None
    if hc is None or not usable(hc):
        measured = [c for c in run["cases"] if c["server"] == model and usable(c)]
        hc = measured[0] if measured else None
    cost = (f'<h4>Measured cost, case {case_link(hc)}</h4>' + cost_table(
        cost_per_message(hc), hc.get("aggregate", {}).get("kernel_syscalls_per_message")) +
        callgrind_line(run, model)) if hc \
        else '<p class="muted">No measured case.</p>'
    best, worst = best_worst(model, run, by_id)

    def lst(items, cls):
        return "".join(f'<li>{case_link(c)}: {esc(metric)} <span class="{cls}">{ratio_text(r)}</span></li>'
                       for c, r, metric in items) or "<li>none beyond the noise</li>"
    if model == REFERENCE:
        ww = f"<p>The reference: every ratio in this report is a model's figure over {REFERENCE}'s.</p>"
    else:
        ww = (f'<div class="bw"><b>Wins most</b> (÷ {REFERENCE}, same round; only ratios beyond the noise, '
              f'CPU per message at a fixed rate):<ul>{lst(best, "better")}</ul>'
              f'<b>Loses most</b>:<ul>{lst(worst, "worse")}</ul></div>')
    bad = [c for c in run["cases"] if c["server"] == model and c.get("status") in ("failed", "skipped")]
    if bad:
        ww += "<p><b>Not measured:</b> " + ", ".join(
            f'{case_link(c)} ({esc(c.get("status"))}: {esc(c.get("reason", ""))})' for c in bad) + "</p>"
    log_links = " ".join(f'<a href="{esc(l)}">{esc(os.path.basename(l))}</a>' for l in logs)
    return (f'<div class="panel" id="model-{esc(model)}" style="--c:{esc(colour)}">'
            f'<h3><span class="swatch" style="background:{esc(colour)}"></span>{esc(model)}'
            f'<span class="family">{esc(servers.family(model))}</span></h3>{what}{seq}{cost}{ww}'
            f'<p class="muted">Source: {source_link(servers, model, out_dir)}'
            f'{"; log: " + log_links if log_links else ""}</p></div>')


def panels_section(models, servers, docs, run, by_id, headline, out_dir, logs_of=lambda m: ()):
    return '<div class="panels">' + "".join(
        model_panel(m, servers, docs, run, by_id, headline, out_dir, logs_of(m)) for m in models) + "</div>"


def figure_html(f):
    svg = f' (<a href="{esc(f.stem)}.svg">SVG</a>)' if f.svg else ""
    return (f'<figure id="fig-{esc(f.stem)}"><a href="{esc(f.stem)}.png"><img src="{esc(f.stem)}.png" '
            f'alt="{esc(f.title)}"></a><figcaption><b>{esc(f.title)}.</b> {esc(f.caption)}{svg}'
            f'</figcaption></figure>')


def spectrum_html(spectra, default_id):
    if not spectra:
        return ""
    default = next((f for cid, f in spectra if cid == default_id), spectra[0][1])
    opts = "".join(
        f'<option value="{esc(cid)}" data-src="{esc(f.stem)}.png" data-caption="{esc(f.caption)}"'
        f'{" selected" if f is default else ""}>{esc(cid)}</option>' for cid, f in spectra)
    return (f'<figure id="fig-spectrum"><label>Latency spectrum of case <select id="spectrum-case">{opts}'
            f'</select></label><a href="{esc(default.stem)}.png"><img id="spectrum-img" src="{esc(default.stem)}.png" '
            f'alt="{esc(default.title)}"></a><figcaption><b>Latency spectrum.</b> <span id="spectrum-caption">'
            f'{esc(default.caption)}</span></figcaption></figure>')


def paired_cell(c, by_id):
    """The case table's ratio: req/s in closed loop; at a fixed rate (req/s is
    the offered rate by construction) the server CPU per message, so marked,
    and judged lower-is-better."""
    if c.get("params", {}).get("rate") and usable(c):
        r = paired_ratio(c, by_id, SERVER_CPU)
        cls = {"better": "worse", "worse": "better"}.get(ratio_class(r), ratio_class(r))
        return r, ("CPU/msg " + ratio_text(r)) if r and r["source"] != "reference" else ratio_text(r), cls
    r = paired_ratio(c, by_id) if usable(c) else None
    return r, ratio_text(r), ratio_class(r)
