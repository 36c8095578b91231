"""A case's flags and what each means for a ratio: failed, degraded,
saturated (the open loop could not keep its rate, read from the rounds),
client_limited and co_saturated (the harness's names; derived from each round's
busy fractions for a run that only has the old loadgen_bound flag), outlier
rounds. Each flag has a short chip for cells and tables and a sentence for the
legend and the hover text."""
from .report_data import status

# Co-saturation thresholds: the loadgen's busiest thread at or
# above CLIENT_BUSY is the limit; with the server at or above SERVER_BUSY too,
# both cores are saturated and req/s is 1 / max(client cost, server cost).
CLIENT_BUSY, SERVER_BUSY = 0.90, 0.80


def round_busy(rep, server_cpus=1):
    """{"server", "loadgen"} busy fractions of one round: the harness's when it
    wrote them (busy fractions per round), else derived: server process CPU over
    the window and its CPUs, the loadgen's busiest thread."""
    b = rep.get("busy")
    if isinstance(b, dict) and b.get("server") is not None:
        return {"server": b["server"], "loadgen": b.get("loadgen")}
    cpu = rep.get("server_cpu", {})
    win = cpu.get("window_s")
    srv = cpu["cpu_ns"] / (win * 1e9) / server_cpus if cpu.get("cpu_ns") and win else None
    lg = rep.get("loadgen", {}).get("summary", {}).get("loadgen_thread_cpu_max")
    if lg is None:
        lg = (rep.get("flags") or {}).get("loadgen_cpu_max")
    return {"server": srv, "loadgen": lg}


def saturation(c):
    """{"client_limited": rounds, "co_saturated": rounds, "rounds": n, "busy": [...]}:
    the harness's flags when present, else each round classified
    from its busy fractions when the old loadgen_bound flag is set."""
    reps = c.get("repetitions", [])
    f = c.get("flags") or {}
    ncpu = c.get("_server_cpus", 1)
    busy = [round_busy(r, ncpu) for r in reps]
    out = {"client_limited": 0, "co_saturated": 0, "rounds": len(reps), "busy": busy}
    if "client_limited" in f or "co_saturated" in f:
        for k in ("client_limited", "co_saturated"):
            n = f.get(f"{k}_rounds")
            out[k] = n if isinstance(n, int) else (sum(1 for r in reps if (r.get("flags") or {}).get(k))
                                                 or (1 if f.get(k) else 0))
        return out
    if not f.get("loadgen_bound") and not any((r.get("flags") or {}).get("loadgen_bound") for r in reps):
        return out
    for r, b in zip(reps, busy):
        lg = b["loadgen"]
        if not ((r.get("flags") or {}).get("loadgen_bound") or (lg is not None and lg >= CLIENT_BUSY)):
            continue
        if b["server"] is not None and b["server"] >= SERVER_BUSY:
            out["co_saturated"] += 1
        else:
            out["client_limited"] += 1
    if not out["client_limited"] and not out["co_saturated"]:
        out["client_limited"] = 1  # flagged by the harness with no round data: say so, do not drop it
    return out


def _busy_text(busy, key):
    vals = [b[key] for b in busy if b.get(key) is not None]
    if not vals:
        return "?"
    lo, hi = min(vals), max(vals)
    return f"{lo:.0%}" if round(lo, 2) == round(hi, 2) else f"{lo:.0%}–{hi:.0%}"


def saturated_reason(c):
    """Why an open-loop case is saturated, read from its rounds: which rounds,
    and what each measured ("2.2% of sends held back"), never a stock sentence
    when the rounds say more."""
    f = c.get("flags") or {}
    reps = c.get("repetitions", [])
    said = [(r["round"], (r.get("flags") or {}).get("saturated_reason") or
             ("saturated" if (r.get("flags") or {}).get("saturated") else None)) for r in reps]
    said = [(i, why) for i, why in said if why]
    if said:
        parts = "; ".join(f"round {i}: {why}" for i, why in said)
        return f"{len(said)} of {len(reps)} round(s) could not keep the offered rate ({parts})"
    return (f.get("saturated_reason") or (c.get("flag_reasons") or {}).get("saturated") or
            "the open loop could not keep its offered rate (no round recorded why)")


# What each flag means for a ratio, for the legend and the table's hover text.
FLAG_MEANING = {
    "failed": "no measurement: no ratio.",
    "degraded": "errors or losses in a round: the figures are kept but not gated.",
    "saturated": "the open loop could not keep the offered rate in some round: the p99 includes queueing.",
    "client_limited": "the loadgen was the limit (≥90% busy) while the server had room (<80%): a ratio near 1 "
                      "means 'cannot tell apart with this client', not 'equal'; a ratio clearly below 1 is real.",
    "co_saturated": "both cores saturated (loadgen ≥90%, server ≥80%): req/s = 1 / max(client cost, server cost), "
                    "so a ratio near 1 means 'cannot tell apart'; a ratio clearly below 1 is still real; compare "
                    "the fixed-rate columns (CPU per message) instead.",
    "outlier_rounds": "a round ran while the host's calibration was off the others; pairing by round still holds.",
}
CHIPS = {"failed": "F", "degraded": "D", "saturated": "S", "client_limited": "CL", "co_saturated": "CS",
         "outlier_rounds": "O"}


def flags(c):
    """[(flag, reason)] for a case: its status when not ok, and every flag."""
    out = []
    st = status(c)
    if st != "ok":
        out.append((st, c.get("reason", "") or "no reason recorded"))
    f = c.get("flags", {}) or {}
    reasons = c.get("flag_reasons", {}) or {}
    reps = c.get("repetitions", [])
    sat = saturation(c)
    n = sat["rounds"] or "?"
    lg, srv = _busy_text(sat["busy"], "loadgen"), _busy_text(sat["busy"], "server")
    if sat["client_limited"]:
        out.append(("client_limited", reasons.get("client_limited") or
                    f"client-limited in {sat['client_limited']} of {n} round(s): loadgen busiest thread {lg} "
                    f"busy, server {srv}"))
    if sat["co_saturated"]:
        out.append(("co_saturated", reasons.get("co_saturated") or
                    f"co-saturated in {sat['co_saturated']} of {n} round(s): loadgen busiest thread {lg} busy, "
                    f"server {srv}"))
    if f.get("saturated") or any((r.get("flags") or {}).get("saturated") for r in reps):
        out.append(("saturated", saturated_reason(c)))
    outl = sorted(set(f.get("outlier_rounds") or []) |
                  {r["round"] for r in reps if (r.get("flags") or {}).get("calibration_outlier")})
    if outl:
        rs = ", ".join(str(i) for i in outl)
        out.append(("outlier_rounds", reasons.get("outlier_rounds") or
                    f"round(s) {rs}: host calibration off the others (drift); the paired ratio still pairs "
                    "them with the reference's same round"))
    for r in reps:
        if r.get("status") and r["status"] != "ok":
            out.append((f"round {r['round']} {r['status']}", r.get("reason", "")))
    return out


def limited(c):
    """The loadgen was (part of) the limit: client_limited or co_saturated."""
    s = saturation(c)
    return bool(s["client_limited"] or s["co_saturated"])
