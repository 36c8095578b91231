#!/usr/bin/python3
"""Checks a report page the way a reader would find it broken.

usage: check_report.py PAGE.html [--run RUN_JSON]   (--run needs plots/ on PYTHONPATH)

- every image, link, script and option image resolves: a #fragment names an
  element of the page, a relative path names a file or folder that exists;
- nothing comes from the network (no http:, https:, //host, no @import or
  url() outside the page);
- every <img> is a non-empty PNG or SVG;
with --run (the run.json the page was made from):
- every server of the run has a panel (id="model-NAME");
- every case has a row (id="case-NAME"), and every flagged case (status not
  ok, loadgen_bound, saturated, outlier rounds, a round not ok) is marked:
  its row has class "flagged", and a degraded, saturated or loadgen-bound
  case's summary cell carries a mark;
- every mark in a summary cell has its entry in the flag legend;
- no summary cell inside the noise is coloured: a cell has a background
  colour only when its paired ratio's 95% interval (from run.json: req/s in closed
  loop, server CPU per message at a fixed rate; checked where run.json has
  one) excludes 1 and its effect is larger than the A/A row's in that column.
Prints each problem; exit 1 if any, 0 if none, 2 on bad usage."""
import argparse
import html.parser
import math
import os
import re
import sys
import urllib.parse

NETWORK = re.compile(r"^\s*(https?:|ftp:|//)", re.I)


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.refs = []        # (tag, attribute, value)
        self.elements = []    # (tag, attrs dict)
        self.styles = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])
        for k in ("href", "src", "data-src", "action", "poster"):
            if a.get(k) is not None:
                self.refs.append((tag, k, a[k]))
        if a.get("style"):
            self.styles.append(a["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def check_page(path):
    """Problems of the page itself, as strings."""
    problems = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    p = Page()
    p.feed(text)
    base = os.path.dirname(os.path.abspath(path))
    for tag, attr, value in p.refs:
        where = f"<{tag} {attr}={value!r}>"
        if NETWORK.match(value):
            problems.append(f"{where}: needs the network")
            continue
        parsed = urllib.parse.urlsplit(value)
        if parsed.scheme and parsed.scheme != "file":
            if parsed.scheme not in ("mailto",):
                problems.append(f"{where}: scheme {parsed.scheme} is not a local file")
            continue
        if not parsed.path:
            if parsed.fragment and parsed.fragment not in p.ids:
                problems.append(f"{where}: no element with id {parsed.fragment!r}")
            continue
        target = urllib.parse.unquote(parsed.path)
        full = target if os.path.isabs(target) else os.path.join(base, target)
        if not os.path.exists(full):
            problems.append(f"{where}: {full} does not exist")
        elif tag == "img" or attr == "data-src":
            with open(full, "rb") as f:
                head = f.read(512)
            if not (head.startswith(b"\x89PNG") or b"<svg" in head or b"<?xml" in head):
                problems.append(f"{where}: not a PNG or SVG image")
    for s in p.styles:
        for u in re.findall(r"url\(([^)]*)\)|@import\s+['\"]?([^'\";]+)", s):
            u = (u[0] or u[1]).strip("'\" ")
            if u and not u.startswith("data:"):
                problems.append(f"style refers to {u!r}: the page must be self-contained")
    for tag, a in p.elements:
        if tag == "link" and a.get("rel") == "stylesheet" and NETWORK.match(a.get("href", "")):
            problems.append("stylesheet from the network")
    return problems, p


def flagged(c):
    f = c.get("flags") or {}
    reps_bad = any(r.get("status") not in (None, "ok") or (r.get("flags") or {}).get("calibration_outlier")
                   for r in c.get("repetitions", []))
    limited = f.get("loadgen_bound") or f.get("client_limited") or f.get("co_saturated")
    return (c.get("status", "ok") != "ok" or bool(limited) or bool(f.get("saturated"))
            or bool(f.get("outlier_rounds")) or reps_bad)


def _interval(c):
    """(median, lo, hi, confidence) of the ratio a summary cell shows, from run.json."""
    # Imported here, not above: the page checks need nothing from plots/, and
    # callers that check a page alone do not put plots/ on PYTHONPATH.
    from iomodels_plots.run_loader import SERVER_CPU, THROUGHPUT, paired
    r = paired(c, SERVER_CPU if (c.get("params") or {}).get("rate") else THROUGHPUT)
    return (r["median"], r["lo"], r["hi"], r["confidence"]) if r else None


def check_cells(p, run):
    """Marks have legends; no cell inside the noise floor is coloured."""
    problems = []
    legend = {a.get("data-legend") for tag, a in p.elements if a.get("data-legend")}
    cells = [a for tag, a in p.elements if tag == "td" and "data-cases" in a]
    for a in cells:
        for m in (a.get("data-marks") or "").split():
            if m not in legend:
                problems.append(f"summary cell {a['data-cases']}: mark {m} has no entry in the flag legend")
    by_name = {c["name"]: c for c in run["cases"]}
    floor = {}
    for c in run["cases"]:
        if c.get("aa") or c["variant"] == "A/A":
            iv = _interval(c)
            if iv:
                floor[c["case_id"]] = abs(math.log(iv[0]))
    for a in cells:
        c = by_name.get(a["data-cases"])
        if not c or "background" not in (a.get("style") or ""):
            continue
        iv = _interval(c)
        if not iv:
            continue  # no paired ratio in the file to judge the colour by
        med, lo, hi, conf = iv
        if lo <= 1 <= hi or abs(math.log(med)) <= floor.get(c["case_id"], 0.0):
            problems.append(f"summary cell {c['name']}: coloured, but {med:.2f} [{lo:.2f}-{hi:.2f}] is inside "
                            "the noise")
        elif conf is None or conf < 0.95:
            problems.append(f"summary cell {c['name']}: coloured on an interval of {conf} confidence (needs 95%)")
    return problems


def check_run(p, run):
    """Problems of page `p` against `run`, as iomodels_plots.run_loader loaded it."""
    problems = check_cells(p, run)
    by_id = {a.get("id"): (tag, a) for tag, a in p.elements if a.get("id")}
    for server in sorted({c["server"] for c in run["cases"]}):
        el = by_id.get(f"model-{server}")
        if not el or "panel" not in el[1].get("class", ""):
            problems.append(f"server {server}: no panel (id model-{server})")
    cells = [a for tag, a in p.elements if tag == "td" and "data-cases" in a]
    for c in run["cases"]:
        row = by_id.get(f"case-{c['name']}")
        if not row:
            problems.append(f"case {c['name']}: no row in the table")
            continue
        if flagged(c) and "flagged" not in row[1].get("class", "").split():
            problems.append(f"case {c['name']} is flagged in run.json but its row is not marked")
        f = c.get("flags") or {}
        # Of the bracketed rows only the A/A copy is a summary row: a
        # server_args variant (io_uring --setup, libuv --try-write) and the
        # group's own epoll_lt copy it pairs with are a side-by-side study,
        # whose marked rows are enough.
        in_summary = not c.get("variant") or c.get("aa", False)
        limited = f.get("loadgen_bound") or f.get("client_limited") or f.get("co_saturated")
        if in_summary and (c.get("status") == "degraded" or f.get("saturated") or limited):
            mine = [a for a in cells if c["name"] in a["data-cases"].split()]
            if not mine:
                problems.append(f"case {c['name']}: in no summary cell")
            elif not all(a.get("data-marks") for a in mine):
                problems.append(f"case {c['name']} is degraded/saturated/loadgen-bound but its summary "
                                "cell has no mark")
    return problems


def main(argv):
    ap = argparse.ArgumentParser(prog="check_report.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("page")
    ap.add_argument("--run", help="the run.json the page was made from")
    a = ap.parse_args(argv[1:])  # bad usage: exit 2 with the usage line
    problems, p = check_page(a.page)
    if a.run:
        from iomodels_plots.run_loader import load_run  # plots/ on PYTHONPATH (see _interval)
        problems += check_run(p, load_run(a.run))
    for pr in problems:
        print(f"check_report: {pr}")
    print(f"check_report: {a.page}: {len(p.refs)} references, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
