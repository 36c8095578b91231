"""The report's judgements, as rules over the data: the summary cells, the
takeaway sentences, each model's best and worst cases. Nothing here is typed
per run; a rule whose data is absent says nothing rather than guess."""
import math

from .report_data import (REFERENCE, cost_per_message, describe, geomean, is_aa, is_cost_group, is_variant,
                         paired_ratio, same_as_default, scenario, usable)
from .run_loader import SERVER_CPU, median, row_of
from .report_flags import flags, limited, saturation
from .report_summary import case_metric, column_of, judge, noise_floors

_FLOORS = {}


def floors_of(run, by_id):
    """The A/A noise floor per case id, computed once per run."""
    key = id(run)
    if key not in _FLOORS:
        cols = {}
        for c in run["cases"]:
            cols.setdefault(c["case_id"], column_of(c))
        _FLOORS.clear()
        _FLOORS[key] = noise_floors(run, by_id, list(cols.values()))
    return _FLOORS[key]


def limit_words(c):
    s = saturation(c)
    parts = [f"{k.replace('_', '-')} in {s[k]} of {s['rounds']} rounds" for k in ("co_saturated", "client_limited")
             if s[k]]
    return " and ".join(parts)

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
        if (row_of(c) != model and not (variants and c["server"] == model)) or not usable(c):
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
            base[(row_of(c), p.get("protocol"), p.get("connections"), str(p.get("size")),
                  p.get("pipeline"))] = c
    for c in run["cases"]:
        p = c.get("params", {})
        # Closed loop on both sides: at a fixed offered rate throughput is the
        # rate whatever the model, so against a closed-loop case it reads as a loss.
        if not p.get("idle_connections") or p.get("rate") or not usable(c):
            continue
        b = base.get((row_of(c), p.get("protocol"), p.get("connections"), str(p.get("size")),
                      p.get("pipeline")))
        if not b or not median(b):
            continue
        change = median(c) / median(b) - 1
        if worst is None or change < worst[0]:
            worst = (change, c, b)
    if not worst or worst[0] >= 0:
        return None
    change, c, b = worst
    p = c["params"]
    ref = by_id.get((REFERENCE, c["case_id"]))
    ref_b = by_id.get((REFERENCE, b["case_id"]))
    tail = ""
    if ref and ref_b and usable(ref) and usable(ref_b) and row_of(c) != REFERENCE:
        rc = median(ref) / median(ref_b) - 1
        tail = (f"; {REFERENCE} kept its throughput" if abs(rc) < 0.005 else
                f"; {REFERENCE} {'lost' if rc < 0 else 'gained'} {_pct(rc)}")
    return (f"Idle connections: adding {p['idle_connections']} idle connections to {p['connections']} busy ones "
            f"cost {row_of(c)} {_pct(change)} of its throughput, the biggest loss of any model{tail}.",
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
    if row_of(c) == REFERENCE:
        return (f"Pipelining ({p['pipeline']} requests in flight per connection, {p['connections']} connections): "
                f"no model beat {REFERENCE}.", [c["name"]])
    lim = ""
    if limited(c):
        lim = (f"; but the loadgen was the limit there ({limit_words(c)}), so this says the client went faster "
               f"against {row_of(c)}, not that {row_of(c)} costs less")
    if judge(r, floors_of(run, by_id).get(c["case_id"], 0.0)) != "better":
        # A highest median inside the noise is no winner.
        return (f"Pipelining ({p['pipeline']} requests in flight per connection, {p['connections']} connections): "
                f"no model served clearly more than {REFERENCE}; the highest median, {row_of(c)}'s {_iv(r)}, "
                f"is inside the noise.", [c["name"]])
    return (f"Pipelining ({p['pipeline']} requests in flight per connection, {p['connections']} connections): "
            f"{row_of(c)} served the most, {_iv(r)} the throughput of {REFERENCE} "
            f"(paired over {r['n']} rounds){lim}.", [c["name"]])


def rule_thread_per_connection(run, by_id):
    """What a thread per connection costs per message against epoll_lt, at
    the highest concurrency both ran."""
    pairs = []
    for c in run["cases"]:
        if row_of(c) != "blocking_threads" or not usable(c) or scenario(c.get("params", {})) != "concurrency":
            continue
        ref = by_id.get((REFERENCE, c["case_id"]))
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
    models = {row_of(c) for c in run["cases"]} - {REFERENCE}
    for m in models:
        per_s = {}
        for c, r in ranked_cases(m, run, by_id):
            if c["params"].get("rate") or (limited(c) and r["hi"] >= 1):
                continue  # req/s fixed by construction, or the client's ceiling (only a clear loss counts)
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
        if not usable(c) or scenario(c.get("params", {})) != "concurrency" or is_variant(c) or is_aa(c):
            continue
        cpm = cost_per_message(c)
        if cpm and cpm.get("syscalls_total"):
            k = (c["params"].get("connections", 0), -cpm["syscalls_total"])
            if best is None or k > best[0]:
                best = (k, c, cpm)
    if not best:
        return None
    conns = best[0][0]
    cands = [(cost_per_message(c), c) for c in run["cases"] if usable(c) and not is_variant(c) and not is_aa(c)
             and scenario(c.get("params", {})) == "concurrency" and c["params"].get("connections") == conns]
    cands = sorted([(p["syscalls_total"], c) for p, c in cands if p and p.get("syscalls_total")],
                   key=lambda t: t[0])
    (lo, c), (hi, w) = cands[0], cands[-1]
    if c is w:
        return None
    return (f"At {conns} connections {row_of(c)} makes the fewest syscalls per message ({lo:.2f}), "
            f"{row_of(w)} the most ({hi:.2f}).", [c["name"], w["name"]])


def _fixed_rate_cases(run):
    """{rate: [cases]} of the fixed-load cases: the suite's cost groups when the
    run has it, else every open-loop case."""
    sel = [c for c in run["cases"] if usable(c) and c.get("params", {}).get("rate") and not is_variant(c)
           and not is_aa(c)]
    cost = [c for c in sel if is_cost_group(c)]
    out = {}
    for c in cost or sel:
        out.setdefault(c["case_id"], []).append(c)
    return out


def rule_fixed_rate_cost(run, by_id):
    """At equal delivered load, which models cost clearly less (or more)
    server CPU per message than the reference: the one comparison a closed
    loop on two saturated cores cannot make."""
    groups = _fixed_rate_cases(run)
    if not groups:
        return None
    floors = floors_of(run, by_id)

    def kept(c):
        return not any(f in ("saturated", "degraded") for f, _ in flags(c))
    # The case where the most models kept the offered rate; among those, the highest rate.
    cid = max(groups, key=lambda k: (sum(kept(c) for c in groups[k]), groups[k][0]["params"]["rate"]))
    judged = []
    for c in groups[cid]:
        if row_of(c) == REFERENCE or not kept(c):
            continue
        r = paired_ratio(c, by_id, SERVER_CPU)
        v = judge(r, floors.get(cid, 0.0), lower_better=True)
        if v in ("better", "worse"):
            judged.append((r["median"], row_of(c), r, c))
    judged.sort()
    rate = groups[cid][0]["params"]["rate"]
    p = groups[cid][0]["params"]
    nk = sum(kept(c) for c in groups[cid])
    head = (f"At a fixed {rate:,.0f} req/s ({p.get('protocol', 'echo')} {p.get('size', 64)} B over "
            f"{p.get('connections')} connections; {'all ' if nk == len(groups[cid]) else ''}{nk} models kept "
            f"the rate), ")
    cheaper = [(m, r) for x, m, r, _ in judged if x < 1]
    dearer = [(m, r) for x, m, r, _ in judged if x > 1]
    if cheaper:
        head += (f"{cheaper[0][0]} used the least server CPU per message, {_iv(cheaper[0][1])} {REFERENCE}'s"
                 + (f" (also cheaper: {', '.join(m for m, _ in cheaper[1:4])})" if len(cheaper) > 1 else "") + "; ")
    else:
        head += f"no model used clearly less server CPU per message than {REFERENCE}; "
    if dearer:
        head += "the dearest: " + ", ".join(f"{m} {r['median']:.2f}×" for m, r in dearer[::-1][:3]) + "."
    else:
        head += "none was clearly dearer."
    confs = {r.get("confidence") for *_, r, _ in judged}
    if not floors or (confs - {None} and min(confs - {None}) < 0.95):
        # Say how much to trust a small difference: without an A/A row (or
        # with intervals under 95%) a few percent may be noise.
        head += (" Intervals here are " + ("/".join(f"{x:.0%}" for x in sorted(confs - {None})) or "min–max")
                 + (" and this run has no A/A row" if not floors else "") + ", so a difference of a few percent "
                 "may still be noise.")
    return head, [c["name"] for *_, c in judged[:1] + judged[-1:]]


def rule_client_limit(run, by_id):
    """How much of the closed-loop table the client, not the server, decided."""
    closed = [c for c in run["cases"] if usable(c) and not c.get("params", {}).get("rate") and not is_variant(c)
              and not is_aa(c)]
    if not closed:
        return None
    co = sum(1 for c in closed if saturation(c)["co_saturated"])
    cl = sum(1 for c in closed if saturation(c)["client_limited"] and not saturation(c)["co_saturated"])
    if not co and not cl:
        return None
    return (f"In {co + cl} of {len(closed)} closed-loop cases the loadgen was the limit ({co} co-saturated: both "
            f"cores busy; {cl} client-limited). There a ratio near 1 means 'cannot tell apart with this client' "
            f"(grey ≈ in the table), not 'equal'; a clear loss is still real. The fixed-rate columns compare "
            f"the servers' cost at equal load.", [])


RULES = (rule_fixed_rate_cost, rule_client_limit, rule_idle_loss, rule_best_pipeline, rule_thread_per_connection,
         rule_best_overall, rule_fewest_syscalls)


def takeaways(run, by_id, limit=4):
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


def scored_cases(model, run, by_id):
    """[(score, case, ratio, metric)] of a model's cases (its variants too,
    except those equal to the default) whose ratio is beyond the noise: a
    ratio fixed by construction (req/s at a fixed rate) is replaced by CPU per
    message, and a client-limited ratio counts only as a clear loss."""
    floors = floors_of(run, by_id)
    out = []
    for c in run["cases"]:
        if (row_of(c) != model and c["server"] != model) or is_aa(c) or same_as_default(c) or not usable(c):
            continue
        kind = column_of(c)["kind"]
        r, _, lower = case_metric(c, by_id, kind)
        v = judge(r, floors.get(c["case_id"], 0.0), lower)
        if v not in ("better", "worse") or (kind == "throughput" and limited(c) and v == "better"):
            continue
        score = math.log(r["median"]) * (-1 if lower else 1)
        out.append((score, c, r, "CPU/msg" if lower else "req/s"))
    return sorted(out, key=lambda t: -t[0])


def best_worst(model, run, by_id, k=2):
    """(best k, worst k) [(case, ratio, metric)] of a model beyond the noise."""
    if model == REFERENCE:
        return [], []
    sc = scored_cases(model, run, by_id)
    best = [(c, r, m) for s, c, r, m in sc if s > 0][:k]
    worst = [(c, r, m) for s, c, r, m in sc[::-1] if s < 0][:k]
    return best, worst


def case_caption(c):
    return f"{c['name']} ({describe(c.get('params', {}))})"
