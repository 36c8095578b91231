"""run.json as the report needs it: schema check, statuses, flags, scenarios,
paired ratios and cost per message, with the fallbacks that let a run written
before iomodels.run/2 (no flags, no paired ratios, no window counters) still
make a report. Every fallback says where its number came from (`source`), and
the page prints it, so a reader never mistakes an old-run estimate for the
measured interval."""
import hashlib
import json
import math
import os
import statistics

SUPPORTED = ("iomodels.run/1", "iomodels.run/2")
REFERENCE = "epoll_lt"
FAMILIES = ["threads", "readiness", "signals", "completion", "framework", "other"]
SCENARIOS = ["concurrency", "idle", "message size", "pipeline", "protocol", "rate", "churn", "other"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RunError(Exception):
    """A run.json the report cannot read; the message says why."""


def load_run(path):
    if os.path.isdir(path):
        path = os.path.join(path, "run.json")
    try:
        with open(path) as f:
            run = json.load(f)
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {path}: {e}")
    schema = run.get("schema")
    if schema not in SUPPORTED:
        raise RunError(f"{path} is schema {schema!r}; this report reads {' and '.join(SUPPORTED)} "
                       f"(a newer run needs a newer plots/, an older one the harness of its time)")
    for key in ("context", "suite", "cases"):
        if key not in run:
            raise RunError(f"{path}: {schema} without \"{key}\"")
    return run


class Servers:
    """Order, family and colour of every model, from the one server list
    (build/servers.json via plots/server_list.py). Without a list (an old
    build) families are "other" and colours come from the name's hash, which is
    still stable across runs."""

    def __init__(self, entries, source):
        self.entries = entries
        self.source = source
        self._by = {e["name"]: e for e in entries}
        self._names = [e["name"] for e in entries]

    def colour(self, name):
        e = self._by.get(base_name(name))
        c = e["color"] if e and e.get("color") else "#" + hashlib.md5(name.encode()).hexdigest()[:6]
        if name != base_name(name):
            # A variant: its server's hue, paler, so the pair reads as one model.
            rgb = [int(c[i:i + 2], 16) for i in (1, 3, 5)]
            c = "#" + "".join(f"{int(v + (255 - v) * 0.45):02x}" for v in rgb)
        return c

    def family(self, name):
        return self._by.get(base_name(name), {}).get("family", "other")

    def source_file(self, name):
        return self._by.get(base_name(name), {}).get("source", f"servers/{base_name(name)}.cpp")

    def order(self, names):
        """Grouped by family (threads, readiness, signals, completion,
        framework), list order inside a family."""
        def key(n):
            fam = self.family(n)
            b = base_name(n)
            return (FAMILIES.index(fam) if fam in FAMILIES else len(FAMILIES),
                    self._names.index(b) if b in self._by else len(self._names), n)
        return sorted(set(names), key=key)


def load_servers(results_dir):
    try:
        import server_list  # the regress helper's module: the one list's reader
        return Servers(server_list.load(results_dir), "servers.json")
    except ImportError:
        pass
    except (OSError, ValueError) as e:
        return Servers([], f"no server list ({e}); families unknown, colours from name hashes")
    for p in (os.path.join(results_dir, "servers.json"), os.path.join(ROOT, "build", "servers.json")):
        if os.path.exists(p):
            with open(p) as f:
                return Servers(json.load(f), p)
    return Servers([], "no servers.json; families unknown, colours from name hashes")


def is_variant(c):
    """A server_args variant (io_uring[--setup plain]/...): a study of one
    model's settings beside the model as built by default."""
    return bool(c.get("server_args"))


def who(c):
    """The row a case belongs to: its server, or the server with its variant
    ("io_uring_multishot[--setup plain]") when the suite ran it with extra
    arguments; the name's first part says which."""
    return c["name"].split("/", 1)[0] if "/" in c["name"] else c["server"]


def base_name(label):
    return label.split("[", 1)[0]


def case_id(c):
    return c["name"].split("/", 1)[1] if "/" in c["name"] else c["name"]


def status(c):
    return c.get("status", "ok" if c.get("repetitions") else "failed")


def usable(c):
    """Measured and kept: ok, or degraded (shown, with its reason)."""
    return status(c) in ("ok", "degraded") and bool(c.get("repetitions")) and "aggregate" in c


def scenario(p):
    """The column of the summary a case belongs to, by its parameters (not by
    the suite's group names, so any suite sorts the same way)."""
    if p.get("requests_per_connection", 0):
        return "churn"
    if p.get("rate", 0):
        return "rate"
    if p.get("idle_connections", 0):
        return "idle"
    if p.get("pipeline", 1) > 1:
        return "pipeline"
    if p.get("protocol", "echo") != "echo":
        return "protocol"
    if str(p.get("size", "64")) != "64":
        return "message size"
    if p.get("server_threads", 0):
        return "other"
    return "concurrency"


def describe(p):
    """A case's parameters in words, for captions and tables."""
    parts = [p.get("protocol", "echo"), f"{p.get('connections', '?')} conn"]
    size = str(p.get("size", "64"))
    parts.append(f"{size} B" if size.isdigit() else f"size {size}")
    if p.get("pipeline", 1) > 1:
        parts.append(f"pipeline {p['pipeline']}")
    if p.get("idle_connections", 0):
        parts.append(f"+{p['idle_connections']} idle")
    if p.get("rate", 0):
        parts.append(f"open loop {p['rate']:g} req/s")
    if p.get("requests_per_connection", 0):
        parts.append(f"{p['requests_per_connection']} req/conn")
    return ", ".join(parts)


def med(c, key):
    v = c.get("aggregate", {}).get(key, {})
    return v.get("median") if isinstance(v, dict) else None


def rounds(c):
    return len(c.get("repetitions", []))


def _round_of(rep, i):
    for k in ("round", "repetition"):
        if isinstance(rep.get(k), int):
            return rep[k]
    return i


def _rep_metric(rep, key):
    if key == "requests_per_s":
        return rep.get("loadgen", {}).get("summary", {}).get("requests_per_s")
    if key == "p99_us":
        return rep.get("loadgen", {}).get("latency_us", {}).get("p99")
    if key == "server_cpu_us_per_request":
        return rep.get("server_cpu", {}).get("us_per_request")
    return None


def paired_ratio(c, by_id, key="requests_per_s"):
    """{"median","lo","hi","n","source"} of case/reference, or None. From the
    harness (run/2) when it wrote one; otherwise the per-round ratios computed
    here, pairing rounds by index, with min..max as the range."""
    if who(c) == REFERENCE:
        return {"median": 1.0, "lo": 1.0, "hi": 1.0, "n": rounds(c), "source": "reference"}
    pr = c.get("aggregate", {}).get("paired_ratio", {})
    if isinstance(pr.get(key), dict) and pr[key].get("median") is not None:
        r = pr[key]
        conf = r.get("confidence")
        return {"median": r["median"], "lo": r.get("lo", r.get("min")), "hi": r.get("hi", r.get("max")),
                "n": r.get("n", rounds(c)),
                "source": "harness paired ratio" + (f", {conf:.0%} interval" if conf else "")}
    ref = by_id.get((REFERENCE, case_id(c)))
    if not ref or not usable(ref):
        return None
    refs = {_round_of(r, i): _rep_metric(r, key) for i, r in enumerate(ref["repetitions"])}
    ratios = []
    for i, r in enumerate(c["repetitions"]):
        a, b = _rep_metric(r, key), refs.get(_round_of(r, i))
        if a is not None and b:
            ratios.append(a / b)
    if not ratios:
        return None
    return {"median": statistics.median(ratios), "lo": min(ratios), "hi": max(ratios), "n": len(ratios),
            "source": "per-round ratios computed by the report (min..max; run has no paired_ratio)"}


def _counter_cost(reps):
    """Cost per message from server counters: window deltas when the harness
    took them, else stop-time totals (which include warmup and connects)."""
    per, src = [], None
    for r in reps:
        st = r.get("server_stats_window") or r.get("server_stats") or {}
        src = src or ("window counters" if r.get("server_stats_window") else
                      "stop-time counters (include warmup and connects)")
        cnt = st.get("counters", st)
        msgs = cnt.get("messages") or 0
        if msgs <= 0:
            continue
        cpu = r.get("server_cpu", {})
        sw = [cpu.get("voluntary_ctxt_switches"), cpu.get("involuntary_ctxt_switches")]
        req = r.get("loadgen", {}).get("summary", {}).get("requests") or msgs
        per.append({
            "syscalls": {k: v / msgs for k, v in cnt.get("syscalls", {}).items()},
            "wakeups": cnt.get("wakeups", 0) / msgs, "events": cnt.get("events", 0) / msgs,
            "context_switches": None if None in sw else sum(sw) / req,
            "cpu_us": cpu.get("us_per_request")})
    return per, src


def cost_per_message(c):
    """{"syscalls": {name: f}, "syscalls_total", "wakeups", "events",
    "context_switches", "cpu_us", "source"} or None."""
    cpm = c.get("aggregate", {}).get("cost_per_message")
    if isinstance(cpm, dict) and cpm:
        out = dict(cpm)
        out.setdefault("syscalls", {})
        out.setdefault("syscalls_total", sum(out["syscalls"].values()))
        out["source"] = "harness (window)"
        return out
    per, src = _counter_cost(c.get("repetitions", []))
    if not per:
        return None

    def m(vals):
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None
    names = sorted({k for p in per for k in p["syscalls"]})
    sys_ = {k: m([p["syscalls"].get(k, 0.0) for p in per]) for k in names}
    return {"syscalls": sys_, "syscalls_total": sum(sys_.values()),
            "wakeups": m([p["wakeups"] for p in per]), "events": m([p["events"] for p in per]),
            "context_switches": m([p["context_switches"] for p in per]),
            "cpu_us": m([p["cpu_us"] for p in per]), "source": src}


def flags(c):
    """[(flag, reason)] for a case: its status when not ok, and every flag."""
    out = []
    st = status(c)
    if st != "ok":
        out.append((st, c.get("reason", "") or "no reason recorded"))
    f = c.get("flags", {}) or {}
    reasons = c.get("flag_reasons", {}) or {}
    reps = c.get("repetitions", [])
    if f.get("loadgen_bound"):
        cpu = [r.get("loadgen", {}).get("summary", {}).get("loadgen_thread_cpu_max") for r in reps]
        cpu = [v for v in cpu + [f.get("loadgen_cpu_max")] if v is not None]
        out.append(("loadgen_bound", reasons.get("loadgen_bound") or
                    (f"busiest loadgen thread at {max(cpu):.0%} of a CPU: the loadgen, not the server, "
                     "may be the limit" if cpu else "the loadgen, not the server, may be the limit")))
    if f.get("saturated"):
        out.append(("saturated", f.get("saturated_reason") or reasons.get("saturated") or
                    "the server's CPU was busy the whole window: throughput is its ceiling here"))
    outl = sorted(set(f.get("outlier_rounds") or []) |
                  {_round_of(r, i) for i, r in enumerate(reps) if (r.get("flags") or {}).get("calibration_outlier")})
    if outl:
        rs = ", ".join(str(i) for i in outl)
        out.append(("outlier_rounds", reasons.get("outlier_rounds") or
                    f"round(s) {rs}: host calibration off the others (drift); the paired ratio still pairs "
                    "them with the reference's same round"))
    for i, r in enumerate(reps):
        if r.get("status") and r["status"] != "ok":
            out.append((f"round {_round_of(r, i)} {r['status']}", r.get("reason", "")))
    return out


def lost(c):
    """Requests lost (sent, never answered) plus unsent, summed over rounds."""
    n = 0
    for r in c.get("repetitions", []):
        s = r.get("loadgen", {}).get("summary", {})
        lst = s.get("lost", {})
        n += (lst.get("total", 0) if isinstance(lst, dict) else 0) + (s.get("unsent", 0) or 0)
    return n


def errors(c):
    return sum(sum(v for v in r.get("loadgen", {}).get("summary", {}).get("errors", {}).values()
                   if isinstance(v, (int, float)))
               for r in c.get("repetitions", []))


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def index_cases(run):
    return {(who(c), case_id(c)): c for c in run["cases"]}
