"""run.json as the report needs it: statuses, scenarios, paired ratios and
cost per message, read from a run that run_loader.py has checked
against the schema (every case with server, variant and case_id)."""
import math

from .run_loader import THROUGHPUT, paired, row_of

REFERENCE = "epoll_lt"
SCENARIOS = ["concurrency", "idle", "message size", "pipeline", "protocol", "rate", "churn", "other"]


# The settings a server runs with when given none, for the options the
# suites vary (servers' --help prints them as "--setup arg (=defer)"; the CTest
# report_server_defaults checks this table against the built servers).
SERVER_DEFAULTS = {
    "io_uring": {"--setup": "defer"},
    "io_uring_multishot": {"--setup": "defer"},
    "libuv": {"--try-write": "1"},
}


def is_cost_group(c):
    """A fixed-load case of the suite's cost groups ("cost", "cost_idle")."""
    return str(c.get("group") or "").startswith("cost")


def is_variant(c):
    """A server_args variant (io_uring[--setup plain]/...): a study of one
    model's settings beside the model as built by default; also a variant
    group's own copy of the reference ("epoll_lt[ref io_uring_setup]/...",
    role group_reference), shown beside the variants it is paired with."""
    return (bool(c.get("server_args")) or c.get("role") == "group_reference"
            or c.get("variant", "").startswith("ref "))


def is_aa(c):
    """The A/A row: a second copy of the reference run as if it were another
    model; its ratio is the noise floor of its scenario."""
    return bool(c.get("aa")) or c.get("variant") in ("aa", "A/A")


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


def status(c):
    return c["status"]


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


def rounds(c):
    return len(c.get("repetitions", []))


def paired_ratio(c, by_id, key=THROUGHPUT):
    """{"median","lo","hi","n","confidence","source"} of case/reference as
    the harness paired it by round, or None when the run has none."""
    if row_of(c) == REFERENCE:
        return {"median": 1.0, "lo": 1.0, "hi": 1.0, "n": rounds(c), "source": "reference", "confidence": None}
    r = paired(c, key)
    if r is None:
        return None
    conf = r["confidence"]
    return dict(r, source="harness paired ratio" + (f", {conf:.0%} interval" if conf else ""))


def cost_per_message(c):
    """{"syscalls": {name: f}, "syscalls_total", "wakeups", "events",
    "context_switches", "cpu_us", "source"} from the harness's measured
    window, or None when the case has none."""
    cpm = c.get("aggregate", {}).get("cost_per_message")
    if not isinstance(cpm, dict) or not cpm:
        return None
    out = dict(cpm)
    out.setdefault("syscalls", {})
    out.setdefault("syscalls_total", sum(out["syscalls"].values()))
    out["source"] = "harness (window)"
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
    return {(row_of(c), c["case_id"]): c for c in run["cases"]}
