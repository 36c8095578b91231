#!/usr/bin/python3
"""The report of a harness results folder: figures (PNG + SVG) and index.html.

usage: /usr/bin/python3 plots/plot.py RESULTS_DIR

Reads RESULTS_DIR/run.json (iomodels.run/2, checked against its schema by
plots/iomodels_plots/run_loader.py; anything else exits 2 saying why), micro.json and
servers.json when present, and docs/models.md. Writes index.html: the summary (heatmap of paired ratios to
epoll_lt, three takeaways written by rules), one panel per model, the figures,
a sortable table of every case, and the run's context. A figure whose data is
absent is left out, never drawn empty. The page loads nothing from the network.
Use Debian's python3 (/usr/bin/python3): a pyenv python3 may lack matplotlib.
"""
import argparse
import os
import sys

from .report_cost import cost_section
from .report_data import index_cases
from .report_figures import FIGURES, headline_id
from .report_html import esc, figure_html, page, panels_section, spectrum_html, summary_section, write_page
from .report_models_doc import load_models_doc
from .report_rules import takeaways
from .report_summary import summary_cells
from .report_heatmap import fig_summary
from .report_spectrum import fig_spectra
from .report_tables import cases_table, context_section, logs_for
from .run_loader import RunError, load_run
from .server_list import load_servers


def build_report(out_dir):
    """Writes the figures and index.html into out_dir; returns the number of
    figures. Raises RunError for a run.json it cannot read."""
    run = load_run(out_dir)
    servers = load_servers(out_dir)
    by_id = index_cases(run)
    docs = load_models_doc()
    ctx = run["context"]
    summary = summary_cells(run, servers, by_id)
    sentences = takeaways(run, by_id)
    title_line = (f"suite {run['suite'].get('name')}, {ctx.get('date', '?')}, {ctx.get('host', '?')}, "
                  f"commit {ctx.get('git_sha', '?')}")
    heat = fig_summary(summary, out_dir, f"Each model ÷ epoll_lt, paired per round — {title_line}")
    figures = [f for f in (draw(run, servers, by_id, out_dir) for draw in FIGURES) if f]
    spectra = fig_spectra(run, servers, out_dir)
    hid = headline_id(run["cases"])
    figs_html = "\n".join([figure_html(figures[0])] if figures else [])
    figs_html += spectrum_html(spectra, hid) + "\n".join(figure_html(f) for f in figures[1:])
    if not figs_html:
        figs_html = "<p>No figure: no case had the data any figure needs.</p>"
    models = servers.order({c["server"] for c in run["cases"]})
    n_bad = sum(1 for c in run["cases"] if c.get("status") not in (None, "ok"))
    header = (f'<p>{esc(title_line)}; {len(run["cases"])} cases, {len(models)} models'
              f'{f", {n_bad} not ok" if n_bad else ""}. Data: <a href="run.json">run.json</a>.</p>')
    cost_html, cost_fig = cost_section(run, servers, out_dir)
    sections = [
        ("summary", "Summary", summary_section(summary, sentences, heat)),
        *([("cost", "Cost at equal load", cost_html)] if cost_html else []),
        ("models", "The models", panels_section(models, servers, docs, run, by_id, hid, out_dir,
                                                 logs_for(out_dir))),
        ("figures", "Figures", figs_html),
        ("cases", "Every case", cases_table(run, by_id)),
        ("context", "Context", context_section(run, out_dir, servers)),
    ]
    text = page(f"iomodels: {run['suite'].get('name', '?')}", header, sections)
    write_page(os.path.join(out_dir, "index.html"), text)
    return len(figures) + len(spectra) + (1 if heat else 0) + (1 if cost_fig else 0)


def main(argv):
    ap = argparse.ArgumentParser(prog="plot.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("results_dir", help="the folder of run.json; index.html and the figures go there too")
    a = ap.parse_args(argv[1:])  # bad usage: exit 2 with the usage line
    try:
        n = build_report(a.results_dir)
    except RunError as e:
        print(f"plot.py: {e}", file=sys.stderr)
        return 2
    print(f"plot.py: {n} figure(s); open {os.path.abspath(os.path.join(a.results_dir, 'index.html'))}")
    return 0

