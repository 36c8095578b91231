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


# The settings a server runs with when given none, for the options the
# suites vary (servers' --help prints them as "--setup arg (=defer)"; the CTest
# report_server_defaults checks this table against the built servers).
SERVER_DEFAULTS = {
    "io_uring": {"--setup": "defer"},
    "io_uring_multishot": {"--setup": "defer"},
    "libuv": {"--try-write": "1"},
}


def is_cost_group(c):
    """A fixed-load case of issue 20's cost groups ("cost", "cost_idle")."""
    return str(c.get("group") or "").startswith("cost")


def is_variant(c):
    """A server_args variant (io_uring[--setup plain]/...): a study of one
    model's settings beside the model as built by default; also a variant
    group's own copy of the reference ("epoll_lt[ref io_uring_setup]/...",
    role group_reference), shown beside the variants it is paired with."""
    return bool(c.get("server_args")) or c.get("role") == "group_reference" or "[ref " in c["name"].split("/")[0]


def is_aa(c):
    """The A/A row: a second copy of the reference run as if it were another
    model; its ratio is the noise floor of its scenario."""
    return bool(c.get("aa")) or "[A/A]" in who(c)


def same_as_default(c):
    """A variant whose arguments are all the server's defaults: the same
    configuration as the model's own row, so any difference is noise."""
    args = c.get("server_args") or []
    if not args or len(args) % 2:
        return False
    defaults = SERVER_DEFAULTS.get(c.get("server"), {})
    return all(defaults.get(args[i]) == str(args[i + 1]) for i in range(0, len(args), 2))


def row_label(name, cases=()):
    """A row's name with "(= default)" when its variant equals the default."""
    return name + (" (= default)" if any(same_as_default(c) for c in cases) else "")


def _split_name(name):
    """(row, case id) of a case name; a "/" inside the row's brackets
    ("epoll_lt[A/A]/echo/c1/s64") belongs to the row."""
    close = name.find("]") if name.find("[") != -1 and name.find("[") < name.find("/") else -1
    cut = name.find("/", close + 1) if close != -1 else name.find("/")
    return (name[:cut], name[cut + 1:]) if cut != -1 else (None, name)


def who(c):
    """The row a case belongs to: its server, or the server with its variant
    ("io_uring_multishot[--setup plain]") when the suite ran it with extra
    arguments; the name's first part says which."""
    return _split_name(c["name"])[0] or c["server"]


def base_name(label):
    return label.split("[", 1)[0]


def case_id(c):
    return _split_name(c["name"])[1]


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
        return {"median": 1.0, "lo": 1.0, "hi": 1.0, "n": rounds(c), "source": "reference", "confidence": None}
    pr = c.get("aggregate", {}).get("paired_ratio", {})
    if isinstance(pr.get(key), dict) and pr[key].get("median") is not None:
        r = pr[key]
        conf = r.get("confidence")
        return {"median": r["median"], "lo": r.get("lo", r.get("min")), "hi": r.get("hi", r.get("max")),
                "n": r.get("n", rounds(c)), "confidence": conf,
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
            "confidence": None, "source": "per-round ratios computed by the report (min..max; run has no paired_ratio)"}


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


def _cpu_count(spec):
    """How many CPUs a pinning string ("0", "0-1", "0,2") names; 1 if unknown."""
    n = 0
    for part in str(spec or "").split(","):
        a, _, b = part.partition("-")
        if a.strip().isdigit():
            n += (int(b) - int(a) + 1) if b.strip().isdigit() else 1
    return n or 1


def index_cases(run):
    ncpu = _cpu_count(run.get("context", {}).get("server_cpus"))
    for c in run["cases"]:
        c["_server_cpus"] = ncpu  # read by saturation(); never written back to a file
    return {(who(c), case_id(c)): c for c in run["cases"]}
