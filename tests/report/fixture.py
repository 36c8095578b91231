"""A synthetic run.json for unit-testing the report's rules, and nothing else:
its numbers are made up so that each rule has one right answer (select loses
most with idle connections, io_uring wins pipelining, a thread per connection
costs more CPU and context switches). It is never a result.

make_run() follows iomodels.run/2 (docs/design.md, "run.json"), paired
ratios included, as the harness writes them."""
import copy

from iomodels_plots.run_loader import P99, SERVER_CPU, THROUGHPUT

MODELS = ["epoll_lt", "select", "blocking_threads", "io_uring"]
# (group, params) of every case; the names follow the harness's pattern.
CASES = [
    ("concurrency", {"connections": 1}), ("concurrency", {"connections": 64}),
    ("idle", {"connections": 16, "idle_connections": 1000}), ("idle_base", {"connections": 16}),
    ("pipeline", {"connections": 64, "pipeline": 16}), ("http", {"protocol": "http"}),
    ("open_loop", {"connections": 16, "rate": 10000.0}),
]
# Throughput factor of each model against epoll_lt, per group.
FACTOR = {
    "select": {"idle": 0.3, "pipeline": 0.9},
    "blocking_threads": {"concurrency": 0.6, "pipeline": 0.5},
    "io_uring": {"pipeline": 1.8, "concurrency": 1.1},
}
ROUND_DRIFT = [1.0, 0.5, 1.3]  # the host drifts 2.6x between rounds: paired ratios cancel it


def _params(p):
    out = {"protocol": "echo", "connections": 64, "size": "64", "pipeline": 1, "rate": 0.0,
           "requests_per_connection": 0, "idle_connections": 0, "loadgen_threads": 1, "server_threads": 0,
           "duration_s": 1.0, "warmup_s": 0.2, "timeout_s": 2.0}
    out.update(p)
    return out


def _name(model, p):
    return f"{model}/{_case_id(p)}"


def _case_id(p):
    n = f"{p['protocol']}/c{p['connections']}/s{p['size']}"
    if p["pipeline"] > 1:
        n += f"/p{p['pipeline']}"
    if p["idle_connections"]:
        n += f"/idle{p['idle_connections']}"
    if p["rate"]:
        n += f"/r{int(p['rate'])}"
    return n


def _rep(i, rps, model, p):
    msgs = int(rps)
    threads = model == "blocking_threads"
    cpu_us = 8.0 * (2.5 if threads else 1.0) * (1 + p["idle_connections"] / 500 * (model == "select"))
    syscalls = {"recv": msgs, "send": msgs}
    if model in ("epoll_lt", "select"):
        syscalls["epoll_wait" if model == "epoll_lt" else "select"] = msgs // 2
    if model == "io_uring":
        syscalls = {"io_uring_enter": msgs // 3}
    counters = {"messages": msgs, "syscalls": syscalls, "wakeups": msgs if threads else msgs // 2,
                "events": msgs, "accepted": p["connections"]}
    sw = 2 * msgs if threads else msgs // 10
    cost = {"messages": msgs, "syscalls": {k: v / msgs for k, v in syscalls.items()},
            "syscalls_total": sum(syscalls.values()) / msgs, "wakeups": counters["wakeups"] / msgs,
            "events": 1.0, "context_switches": sw / msgs, "cpu_us": cpu_us}
    return {
        "repetition": i, "round": i, "status": "ok", "reason": "", "flags": {},
        "loadgen": {"summary": {"requests": msgs, THROUGHPUT: rps, "errors": {"timeout": 0},
                                "lost": {"timeout": 0, "reset": 0, "closed": 0, "end_of_run": 0, "total": 0},
                                "unsent": 0, "loadgen_thread_cpu_max": 0.4},
                    "latency_us": {"p50": 50.0, "p99": 200.0, "p99_9": 400.0},
                    "histogram": {"unit": "ns", "buckets": [[50000, 900], [200000, 90], [400000, 10]]}},
        "server_stats": {"counters": counters},
        "server_stats_window": {"counters": counters},
        "server_cpu": {"cpu_ns": int(cpu_us * msgs * 1000), "ns_per_request": cpu_us * 1000,
                       "us_per_request": cpu_us, "user_s": 0.1, "sys_s": 0.2,
                       "voluntary_ctxt_switches": sw, "involuntary_ctxt_switches": 0},
        "calibration": {"0": {"ns_per_op": 10.0 * ROUND_DRIFT[i]}, "1": {"ns_per_op": 10.0}},
        "window": {"source": "loadgen", "start_ns": 1000, "end_ns": 1000 + 10 ** 9},
        "cost_per_message": cost,
    }


def _median_cost(costs):
    mid = sorted(costs, key=lambda k: k["cpu_us"])[len(costs) // 2]
    return dict(mid)


def _stat(vals):
    s = sorted(vals)
    return {"median": s[len(s) // 2], "min": s[0], "max": s[-1]}


def make_run():
    cases = []
    for model in MODELS:
        for group, p0 in CASES:
            p = _params(p0)
            factor = FACTOR.get(model, {}).get(group, 1.0)
            reps = [_rep(i, 10000.0 * factor * d, model, p) for i, d in enumerate(ROUND_DRIFT)]
            agg = {k: _stat(v) for k, v in {
                THROUGHPUT: [r["loadgen"]["summary"][THROUGHPUT] for r in reps],
                "p50_us": [50.0] * 3, P99: [200.0] * 3, "p99_9_us": [400.0] * 3,
                SERVER_CPU: [r["server_cpu"]["us_per_request"] for r in reps],
                "server_cpu_ns_per_request": [r["server_cpu"]["ns_per_request"] for r in reps]}.items()}
            agg["cost_per_message"] = _median_cost([r["cost_per_message"] for r in reps])
            agg["schedule_lag_us"] = {"p50": 2.0, "p99": 30.0, "max": 90.0}
            cases.append({"name": _name(model, p), "case_id": _case_id(p), "variant": "",
                          "server": model, "group": group, "params": p,
                          "status": "ok", "reason": "", "flags": {"loadgen_bound": False, "saturated": False,
                                                                   "outlier_rounds": []},
                          "repetitions": reps, "aggregate": agg})
    by = {(c["server"], c["case_id"]): c for c in cases}
    for c in cases:
        ref = by[("epoll_lt", c["case_id"])]
        c["aggregate"]["paired_ratio"] = {"reference": "epoll_lt"}
        for metric, value in ((THROUGHPUT, lambda r: r["loadgen"]["summary"][THROUGHPUT]),
                              (SERVER_CPU, lambda r: r["server_cpu"]["us_per_request"]),
                              (P99, lambda r: r["loadgen"]["latency_us"]["p99"])):
            st = _stat([value(a) / value(b) for a, b in zip(c["repetitions"], ref["repetitions"])])
            st.update({"lo": st["min"] * 0.95, "hi": st["max"] * 1.05, "n": len(c["repetitions"]),
                       "confidence": 0.95})
            c["aggregate"]["paired_ratio"][metric] = st
    _mark(by)
    run = {"schema": "iomodels.run/2",
           "context": {"date": "2026-01-01T00:00:00Z", "host": "fixture", "kernel": "Linux 6.1",
                       "cpu_model": "synthetic", "cpus": 2, "compiler": "gcc 12", "build_type": "Release",
                       "git_sha": "0000000", "versions": {"liburing": "2.3", "libevent": "2.1", "glibc": "2.36"},
                       "server_cpus": "0", "loadgen_cpus": "1", "topology": "loopback", "link": None,
                       "hosts": []},
           "suite": {"name": "fixture", "file": "tests/report/fixture.py", "repetitions": 3}, "cases": cases}
    return run


def _mark(by):
    """One case of each kind the report must mark."""
    sat = by[("blocking_threads", "echo/c64/s64")]
    sat["flags"]["saturated"] = True
    sat["flags"]["saturated_reason"] = "server CPU 99% of the window"
    deg = by[("select", "http/c64/s64")]
    deg["status"], deg["reason"] = "degraded", "12 requests lost (timeout)"
    deg["repetitions"][1]["loadgen"]["summary"]["lost"].update({"timeout": 12, "total": 12})
    lb = by[("io_uring", "echo/c64/s64/p16")]
    lb["flags"]["loadgen_bound"] = True
    lb["repetitions"][0]["loadgen"]["summary"]["loadgen_thread_cpu_max"] = 0.99
    out = by[("io_uring", "echo/c1/s64")]
    out["flags"]["outlier_rounds"] = [1]
    failed = by[("blocking_threads", "echo/c16/s64/r10000")]
    failed.update({"status": "failed", "reason": "server exited with signal 9", "repetitions": []})
    for k in ("cost_per_message", "paired_ratio", "schedule_lag_us"):
        failed["aggregate"].pop(k, None)
    failed["aggregate"]["cost_per_message"] = None


def ratio(median, lo, hi, n=5, confidence=0.95):
    """A paired ratio record as the harness writes it (min..max of the rounds
    taken as the interval here)."""
    return {"median": median, "lo": lo, "hi": hi, "min": lo, "max": hi, "n": n, "confidence": confidence}


def add_cost_fields(run):
    """The cost-per-message fields of run/2 (docs/design.md, "run.json"): an
    A/A row, client_limited / co_saturated flags with per-round busy fractions,
    kernel-counted syscalls, callgrind instruction counts and a fixed-load
    "cost" group. Made-up numbers, as above."""
    by = {(c["server"], c["case_id"]): c for c in run["cases"]}
    aa_rows = []
    for c in [c for c in run["cases"] if c["server"] == "epoll_lt"]:
        aa = copy.deepcopy(c)
        aa["name"], aa["variant"], aa["aa"] = "epoll_lt[A/A]/" + c["case_id"], "A/A", True
        aa["aggregate"]["paired_ratio"] = {"reference": "epoll_lt", THROUGHPUT: ratio(1.04, 0.97, 1.09),
                                           SERVER_CPU: ratio(1.03, 0.98, 1.08)}
        aa_rows.append(aa)
    run["cases"] += aa_rows
    co = by[("select", "echo/c64/s64")]
    co["flags"].update(co_saturated=True, co_saturated_rounds=3, loadgen_bound=True)
    for r in co["repetitions"]:
        r["flags"].update(co_saturated=True, loadgen_bound=True)
        r["busy"] = {"server": 0.93, "loadgen": 0.97}
    for c in run["cases"]:
        cpm = c["aggregate"].get("cost_per_message")
        if cpm:
            names = dict(cpm["syscalls"])
            c["aggregate"]["kernel_syscalls_per_message"] = {"total": sum(names.values()), "by_name": names}
    run["callgrind"] = {"available": True, "reason": "", "servers": {
        m: {"echo/c1/s64": {"instructions_per_message": 600.0 + 10 * i}} for i, m in enumerate(MODELS)}}
    for model in MODELS:
        base = by[(model, "echo/c16/s64/r10000")]
        if base["status"] == "failed":
            continue
        cost = copy.deepcopy(base)
        cost["params"]["rate"] = 25000.0
        cost["name"], cost["group"] = cost["name"].replace("r10000", "r25000"), "cost"
        cost["case_id"] = _case_id(cost["params"])
        factor = {"io_uring": 0.8, "blocking_threads": 1.5}.get(model, 1.0)
        cost["aggregate"]["paired_ratio"] = {"reference": "epoll_lt",
                                             SERVER_CPU: ratio(factor, factor * 0.97, factor * 1.03),
                                             P99: ratio(1.0, 0.9, 1.1)}
        run["cases"].append(cost)
    return run
