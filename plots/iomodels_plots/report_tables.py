"""The sortable table of every case (status and flags with their reasons in
sight) and the context of the run (machine, versions, calibration, files)."""
import os
import statistics

from .report_data import cost_per_message, describe, errors, lost, rounds, row_label, scenario, status, usable
from .run_loader import P99, median, row_of
from .report_flags import CHIPS, FLAG_MEANING, flags
from .report_html import case_anchor, esc, paired_cell


def _num(v, fmt="{:,.1f}"):
    if v is None:
        return '<td data-sort="">—</td>'
    return f'<td data-sort="{v}">{fmt.format(v)}</td>'


def schedule_lag_p99(c):
    """Open loop: how late sends left against their intended time (p99, µs);
    the harness's aggregate, else the worst round's loadgen histogram."""
    lag = c.get("aggregate", {}).get("schedule_lag_us")
    if isinstance(lag, dict) and lag.get("p99") is not None:
        return lag["p99"]
    vals = [r.get("loadgen", {}).get("schedule_lag_us", {}).get("p99") for r in c.get("repetitions", [])]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


def cases_table(run, by_id):
    # Headings with spaces so they wrap: the table fits 1400 px (and scrolls in its own frame when not).
    head = [("case", "l"), ("model", "l wrap"), ("status", "l"), ("flags", "l"),
            ("rounds", ""), ("req/s", ""), ("÷ epoll_lt [interval]", ""), ("p50 µs", ""), ("p99 µs", ""),
            ("p99.9 µs", ""), ("CPU µs per msg", ""), ("syscalls per msg", ""), ("wakeups per msg", ""),
            ("ctx sw per msg", ""), ("send lag p99 µs", ""), ("lost + unsent", ""), ("errors", "")]
    rows = []
    for c in run["cases"]:
        st = status(c)
        fl = flags(c)
        cls = " ".join(x for x in (st if st != "ok" else "", "flagged" if fl else "") if x)
        # A short chip per flag; its reason and what it means for a ratio on hover.
        flag_html = " ".join(f'<span class="chip" title="{esc(f)}: {esc(r)}. {esc(FLAG_MEANING.get(f, ""))}">'
                             f'{esc(CHIPS.get(f, f))}</span>' for f, r in fl)
        ok = usable(c)
        r, rtext, rcls = paired_cell(c, by_id)
        cpm = cost_per_message(c) if ok else None
        g = (lambda k: cpm.get(k) if cpm else None)
        rows.append(
            f'<tr id="{esc(case_anchor(c["name"]))}" class="{cls}" data-flags="{esc(",".join(f for f, _ in fl))}">'
            f'<td class="l" title="{esc(scenario(c.get("params", {})))}: {esc(describe(c.get("params", {})))}">'
            f'{esc(c["case_id"])}</td>'
            f'<td class="l wrap"><a href="#model-{esc(c["server"])}">{esc(row_label(row_of(c), [c]))}</a></td>'
            f'<td class="l">{esc(st)}</td>'
            f'<td class="l flags">{flag_html}</td><td>{rounds(c)}</td>'
            + _num(median(c) if ok else None, "{:,.0f}")
            + (f'<td data-sort="{r["median"]}" class="{rcls}">{esc(rtext)}</td>' if r else '<td data-sort="">—</td>')
            + _num(median(c, "p50_us") if ok else None) + _num(median(c, P99) if ok else None)
            + _num(median(c, "p99_9_us") if ok else None) + _num(g("cpu_us"), "{:.2f}")
            + _num(g("syscalls_total"), "{:.2f}") + _num(g("wakeups"), "{:.2f}")
            + _num(g("context_switches"), "{:.2f}") + _num(schedule_lag_p99(c) if ok else None)
            + _num(lost(c), "{:,d}") + _num(errors(c), "{:,d}")
            + "</tr>")
    ths = "".join(f'<th class="{k}">{esc(h)}</th>' for h, k in head)
    n_flag = sum(1 for c in run["cases"] if flags(c))
    return (f'<p><label><input type="checkbox" id="only-flagged"> only the {n_flag} flagged case(s)</label> '
            f'<span class="muted">Click a heading to sort. Medians over rounds; hover a case for its '
            f'parameters, a flag chip for its reason. Flagged rows are yellow, failed red. '
            f'Chips: {", ".join(f"{v} {k.replace(chr(95), chr(45))}" for k, v in CHIPS.items())}.</span></p>'
            f'<div class="scroll frame"><table class="cases sortable"><thead><tr>{ths}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def calibration_table(run):
    """Calibration per round: the host's ns per reference operation, per CPU,
    as the harness measured it before each repetition."""
    per_round = {}
    for c in run["cases"]:
        for rep in c.get("repetitions", []):
            cal = rep.get("calibration")
            if not isinstance(cal, dict):
                continue
            rnd = rep["round"]
            for cpu, v in cal.items():
                if isinstance(v, dict) and v.get("ns_per_op") is not None:
                    per_round.setdefault(rnd, {}).setdefault(cpu, []).append(v["ns_per_op"])
    if not per_round:
        return '<p class="muted">No calibration in this run (no case has a measured round).</p>'
    cpus = sorted({cpu for r in per_round.values() for cpu in r})
    head = "".join(f"<th>CPU {esc(cpu)} ns/op: median [min–max]</th>" for cpu in cpus)
    rows = []
    for rnd in sorted(per_round):
        cells = []
        for cpu in cpus:
            v = per_round[rnd].get(cpu, [])
            cells.append(f"<td>{statistics.median(v):.2f} [{min(v):.2f}–{max(v):.2f}]</td>" if v else "<td>—</td>")
        outl = sum(1 for c in run["cases"] if rnd in ((c.get("flags") or {}).get("outlier_rounds") or []))
        rows.append(f"<tr><td>{esc(rnd)}</td>{''.join(cells)}<td>{outl}</td></tr>")
    return (f'<table class="cases sortable"><thead><tr><th>round</th>{head}<th>cases with this round an outlier'
            f'</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def context_section(run, out_dir, servers):
    ctx = run.get("context", {})
    items = [("date", ctx.get("date")), ("host", ctx.get("host")),
             ("machine", f'{ctx.get("cpu_model", "?")}, {ctx.get("cpus", "?")} CPUs'),
             ("kernel", ctx.get("kernel")), ("compiler", f'{ctx.get("compiler", "?")}, {ctx.get("build_type", "?")} build'),
             ("commit", ctx.get("git_sha")),
             ("libraries", ", ".join(f"{k} {v}" for k, v in sorted(ctx.get("versions", {}).items()))),
             ("pinning", f'server on CPU {ctx.get("server_cpus", "?")}, loadgen on CPU {ctx.get("loadgen_cpus", "?")}'),
             ("topology", ctx.get("topology") or "not recorded (loopback)"),
             ("link", ctx.get("link") or "—"),
             ("hosts", ", ".join(str(h.get("name", h)) if isinstance(h, dict) else str(h)
                                 for h in ctx.get("hosts", []) or []) or "—"),
             ("suite", f'{run["suite"].get("name")} ({run["suite"].get("file", "")}): '
                       f'{run["suite"].get("description", "")}'),
             ("schema", run.get("schema")), ("server list", servers.source)]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v if v is not None else '?')}</dd>" for k, v in items)
    files = [f for f in ("run.json", "gbench.json", "micro.json", "servers.json")
             if os.path.exists(os.path.join(out_dir, f))]
    logs = sorted(os.listdir(os.path.join(out_dir, "logs"))) if os.path.isdir(os.path.join(out_dir, "logs")) else []
    links = ", ".join(f'<a href="{esc(f)}">{esc(f)}</a>' for f in files)
    log_links = ", ".join(f'<a href="logs/{esc(f)}">{esc(f)}</a>' for f in logs[:200])
    more = f" and {len(logs) - 200} more in <a href=\"logs/\">logs/</a>" if len(logs) > 200 else ""
    return (f'<dl class="ctx">{dl}</dl><h3>Files</h3><p>Data: {links or "—"}.</p>'
            f'<p>Logs: {log_links or "none"}{more}.</p><h3>Calibration per round</h3>{calibration_table(run)}')


def logs_for(out_dir):
    """model -> [relative log paths] whose file name starts with the model's name."""
    d = os.path.join(out_dir, "logs")
    names = sorted(os.listdir(d)) if os.path.isdir(d) else []

    def of(model):
        return [f"logs/{n}" for n in names if n == f"{model}.log" or n.startswith((model + ".", model + "-"))][:5]
    return of
