"""The report's judgements, as rules over the data: the summary cells, the
takeaway sentences, each model's best and worst cases. Nothing here is typed
per run; a rule whose data is absent says nothing rather than guess."""
from report_data import (REFERENCE, is_variant, SCENARIOS, case_id, who, cost_per_message, describe, flags, geomean,
                         med, paired_ratio, rounds, scenario, status, usable)

MARKS = {"degraded": "D", "saturated": "S", "loadgen_bound": "L", "failed": "F", "outlier_rounds": "O"}


def case_marks(c):
    """Short marks of a case's flags (D, S, L, F, O), in a fixed order."""
    names = {f for f, _ in flags(c)}
    if status(c) == "skipped":
        names.discard("skipped")
    return "".join(m for k, m in MARKS.items() if k in names)


def summary_cells(run, servers, by_id):
    """{"models": [...], "scenarios": [...], "cells": {(model, scenario): cell}}.
    A cell: geometric mean over the scenario's cases of the paired req/s ratio
    to epoll_lt, its interval (geometric mean of the cases' intervals), the
    cases it summarises and the union of their marks."""
    groups = {}
    for c in run["cases"]:
        groups.setdefault((who(c), scenario(c.get("params", {}))), []).append(c)
    models = servers.order({who(c) for c in run["cases"]})
    scen = [s for s in SCENARIOS if any(k[1] == s for k in groups)]
    cells = {}
    for (m, s), cases in groups.items():
        ratios = [(c, paired_ratio(c, by_id)) for c in cases if usable(c)]
        ratios = [(c, r) for c, r in ratios if r]
        marks = "".join(sorted({ch for c in cases for ch in case_marks(c)}))
        cell = {"cases": cases, "marks": marks, "value": None, "lo": None, "hi": None,
                "n_cases": len(ratios), "rounds": max((rounds(c) for c in cases), default=0),
                "source": ratios[0][1]["source"] if ratios else None}
        if ratios:
            cell["value"] = geomean([r["median"] for _, r in ratios])
            cell["lo"] = geomean([r["lo"] for _, r in ratios])
            cell["hi"] = geomean([r["hi"] for _, r in ratios])
        cells[(m, s)] = cell
    return {"models": models, "scenarios": scen, "cells": cells}


def verdict(value, lo, hi):
    """"better" / "worse" when the whole interval is past 1, else "same"."""
    if value is None:
        return "none"
    if lo is not None and lo > 1:
        return "better"
    if hi is not None and hi < 1:
        return "worse"
    return "same"


def ranked_cases(model, run, by_id, variants=False):
    """The model's measured cases with their paired ratio, best first; with
    variants, also those it ran with extra arguments."""
    out = []
    for c in run["cases"]:
        if (who(c) != model and not (variants and c["server"] == model)) or not usable(c):
            continue
        r = paired_ratio(c, by_id)
        if r:
            out.append((c, r))
    return sorted(out, key=lambda cr: -cr[1]["median"])


def _pct(x):
    return f"{abs(x) * 100:.0f}%"


def _iv(r):
    if (r.get("n") or 0) < 2:
        return f"{r['median']:.2f}× (one round, no interval)"
    return f"{r['median']:.2f}× [{r['lo']:.2f}–{r['hi']:.2f}]"


def rule_idle_loss(run, by_id):
    """The biggest loss of throughput a model takes when idle connections are
    added to the same active load (its own case without them)."""
    worst = None
    base = {}
    for c in run["cases"]:
        p = c.get("params", {})
        if usable(c) and not p.get("idle_connections") and not p.get("rate"):
            base[(who(c), p.get("protocol"), p.get("connections"), str(p.get("size")),
                  p.get("pipeline"))] = c
    for c in run["cases"]:
        p = c.get("params", {})
        if not p.get("idle_connections") or not usable(c):
            continue
        b = base.get((who(c), p.get("protocol"), p.get("connections"), str(p.get("size")),
                      p.get("pipeline")))
        if not b or not med(b, "requests_per_s"):
            continue
        change = med(c, "requests_per_s") / med(b, "requests_per_s") - 1
        if worst is None or change < worst[0]:
            worst = (change, c, b)
    if not worst or worst[0] >= 0:
        return None
    change, c, b = worst
    p = c["params"]
    ref = by_id.get((REFERENCE, case_id(c)))
    ref_b = by_id.get((REFERENCE, case_id(b)))
    tail = ""
    if ref and ref_b and usable(ref) and usable(ref_b) and who(c) != REFERENCE:
        rc = med(ref, "requests_per_s") / med(ref_b, "requests_per_s") - 1
        tail = (f"; {REFERENCE} kept its throughput" if abs(rc) < 0.005 else
                f"; {REFERENCE} {'lost' if rc < 0 else 'gained'} {_pct(rc)}")
    return (f"Idle connections: adding {p['idle_connections']} idle connections to {p['connections']} busy ones "
            f"cost {who(c)} {_pct(change)} of its throughput, the biggest loss of any model{tail}.",
            [c["name"], b["name"]])


def rule_best_pipeline(run, by_id):
    best = None
    for c in run["cases"]:
        # The models as built by default: a server_args variant is a study of one model's settings.
        if scenario(c.get("params", {})) != "pipeline" or not usable(c) or is_variant(c):
            continue
        r = paired_ratio(c, by_id)
        if r and (best is None or r["median"] > best[1]["median"]):
            best = (c, r)
    if not best:
        return None
    c, r = best
    p = c["params"]
    if who(c) == REFERENCE:
        return (f"Pipelining ({p['pipeline']} requests in flight per connection, {p['connections']} connections): "
                f"no model beat {REFERENCE}.", [c["name"]])
    if (r.get("n") or 0) >= 2 and r["lo"] <= 1.0:  # a highest median inside the noise is no winner
        return (f"Pipelining ({p['pipeline']} requests in flight per connection, {p['connections']} connections): "
                f"no model served clearly more than {REFERENCE}; the highest median, {who(c)}'s {_iv(r)}, "
                f"has an interval that includes 1.", [c["name"]])
    return (f"Pipelining ({p['pipeline']} requests in flight per connection, {p['connections']} connections): "
            f"{who(c)} served the most, {_iv(r)} the throughput of {REFERENCE} "
            f"(paired over {r['n']} rounds).", [c["name"]])


def rule_thread_per_connection(run, by_id):
    """What a thread per connection costs per message against epoll_lt, at
    the highest concurrency both ran."""
    pairs = []
    for c in run["cases"]:
        if who(c) != "blocking_threads" or not usable(c) or scenario(c.get("params", {})) != "concurrency":
            continue
        ref = by_id.get((REFERENCE, case_id(c)))
        if ref and usable(ref):
            pairs.append((c["params"].get("connections", 0), c, ref))
    if not pairs:
        return None
    _, c, ref = max(pairs, key=lambda t: t[0])
    a, b = cost_per_message(c), cost_per_message(ref)
    if not a or not b or a.get("cpu_us") is None or b.get("cpu_us") is None:
        return None
    both = a.get("context_switches") is not None and b.get("context_switches") is not None
    mine = f"{a['cpu_us']:.1f} µs of server CPU" + (
        f" and {a['context_switches']:.2f} context switches" if both else "")
    theirs = f"{b['cpu_us']:.1f} µs" + (f" and {b['context_switches']:.2f}" if both else "")
    r = paired_ratio(c, by_id)
    thr = f"; its throughput is {_iv(r)} that of {REFERENCE}" if r else ""
    return (f"A thread per connection (blocking_threads) at {c['params'].get('connections')} connections costs "
            f"{mine} per message, against {theirs} for {REFERENCE}{thr}.", [c["name"], ref["name"]])


def rule_best_overall(run, by_id):
    """The model with the highest geometric mean paired ratio over the
    scenarios it ran (so a sweep of six concurrencies does not outvote one
    pipeline case)."""
    best = None
    models = {who(c) for c in run["cases"]} - {REFERENCE}
    for m in models:
        per_s = {}
        for c, r in ranked_cases(m, run, by_id):
            per_s.setdefault(scenario(c["params"]), []).append(r["median"])
        if not per_s:
            continue
        g = geomean([geomean(v) for v in per_s.values()])
        if best is None or g > best[1]:
            best = (m, g, len(per_s))
    if not best:
        return None
    m, g, n = best
    if g < 1:
        return (f"No model beat {REFERENCE} over the {n} scenario(s) they share; the closest, {m}, reached "
                f"{g:.2f}× its throughput (geometric mean of paired ratios).", [])
    return (f"Across the {n} scenario(s) it ran, {m} has the best throughput relative to {REFERENCE}: "
            f"{g:.2f}× (geometric mean of paired ratios over scenarios).", [])


def rule_fewest_syscalls(run, by_id):
    """Fewest syscalls per message at the headline case."""
    best = None
    for c in run["cases"]:
        if not usable(c) or scenario(c.get("params", {})) != "concurrency":
            continue
        cpm = cost_per_message(c)
        if cpm and cpm.get("syscalls_total"):
            k = (c["params"].get("connections", 0), -cpm["syscalls_total"])
            if best is None or k > best[0]:
                best = (k, c, cpm)
    if not best:
        return None
    conns = best[0][0]
    cands = [(cost_per_message(c), c) for c in run["cases"] if usable(c)
             and scenario(c.get("params", {})) == "concurrency" and c["params"].get("connections") == conns]
    cands = sorted([(p["syscalls_total"], c) for p, c in cands if p and p.get("syscalls_total")],
                   key=lambda t: t[0])
    (lo, c), (hi, w) = cands[0], cands[-1]
    if c is w:
        return None
    return (f"At {conns} connections {who(c)} makes the fewest syscalls per message ({lo:.2f}), "
            f"{who(w)} the most ({hi:.2f}).", [c["name"], w["name"]])


RULES = (rule_idle_loss, rule_best_pipeline, rule_thread_per_connection, rule_best_overall,
         rule_fewest_syscalls)


def takeaways(run, by_id, limit=3):
    """Up to `limit` sentences, the first rules that have data, each with the
    cases it cites."""
    out = []
    for rule in RULES:
        got = rule(run, by_id)
        if got:
            out.append(got)
        if len(out) == limit:
            break
    return out


def best_worst(model, run, by_id, k=2):
    """(best k, worst k) cases of a model by paired ratio, without overlap."""
    rk = ranked_cases(model, run, by_id, variants=True)
    if model == REFERENCE:
        return [], []
    best = rk[:k]
    worst = [x for x in rk[::-1][:k] if x not in best]
    return best, worst


def case_caption(c):
    return f"{c['name']} ({describe(c.get('params', {}))})"
