"""The soak's arithmetic: per-minute series from the samples and the loadgen's
per-second time series, the first and last windows compared, the verdicts.
Kept apart from soak.py (the processes) so it can be checked on hand-made data."""
import json
import math
import os

GATES = {"errors", "rss", "fds", "cpu", "series"}


def percentile_us(buckets, q):
    """q-th percentile of merged (lowest value ns, count) buckets, in us."""
    total = sum(buckets.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(total * q / 100.0))
    seen = 0
    for value in sorted(buckets):
        seen += buckets[value]
        if seen >= rank:
            return value / 1000.0
    return None


def minute_series(soak, loadgen, minutes):
    per_second = {e["t_s"]: e for e in loadgen.get("timeseries", [])}
    rows = []
    for k in range(1, minutes + 1):
        secs = [per_second.get(t) for t in range(60 * (k - 1) + 1, 60 * k + 1)]
        present = [e for e in secs if e]
        merged = {}
        for e in present:
            for value, count in e.get("buckets", []):
                merged[value] = merged.get(value, 0) + count
        requests = sum(e["requests"] for e in present)
        lo, hi = (k - 1) * 60e9, k * 60e9
        inside = [s for s in soak.samples if lo <= s[0] < hi]

        def mean(i):
            v = [s[i] for s in inside if s[i] is not None]
            return sum(v) / len(v) if v else None

        def top(i):
            v = [s[i] for s in inside if s[i] is not None]
            return max(v) if v else None
        cpu = None
        if len(soak.cpu_marks) > k and None not in (soak.cpu_marks[k], soak.cpu_marks[k - 1]):
            cpu = soak.cpu_marks[k] - soak.cpu_marks[k - 1]
        lags = [e["schedule_lag_p99_us"] for e in present if "schedule_lag_p99_us" in e]
        lag_max = [e["schedule_lag_max_us"] for e in present if "schedule_lag_max_us" in e]
        rows.append({
            "minute": k, "requests": requests, "errors": sum(e["errors"] for e in present),
            "seconds_missing": sum(1 for e in secs if not e or e["requests"] == 0),
            "p99_us": percentile_us(merged, 99),
            "server_rss_kb": mean(1), "server_fds": top(2), "server_cpu_ns": cpu,
            "server_cpu_us_per_msg": cpu / 1000.0 / requests if cpu is not None and requests else None,
            "loadgen_rss_kb": mean(3), "loadgen_fds": top(4),
            "loadgen_schedule_lag_p99_us": max(lags) if lags else None,
            "loadgen_schedule_lag_max_us": max(lag_max) if lag_max else None,
        })
    return rows


def window(rows):
    """One end of the run: mean RSS, max fds, CPU per message over all its messages."""
    def vals(key):
        return [r[key] for r in rows if r[key] is not None]
    cpu, msgs = vals("server_cpu_ns"), sum(r["requests"] for r in rows)
    p99 = vals("p99_us")
    return {
        "minutes": [r["minute"] for r in rows],
        "server_rss_kb": sum(vals("server_rss_kb")) / len(vals("server_rss_kb")) if vals("server_rss_kb") else None,
        "server_fds": max(vals("server_fds")) if vals("server_fds") else None,
        "server_cpu_us_per_msg": sum(cpu) / 1000.0 / msgs if cpu and msgs and len(cpu) == len(rows) else None,
        "p99_us_median": sorted(p99)[len(p99) // 2] if p99 else None,
        "loadgen_rss_kb": sum(vals("loadgen_rss_kb")) / len(vals("loadgen_rss_kb")) if vals("loadgen_rss_kb") else None,
        "loadgen_schedule_lag_p99_us": max(vals("loadgen_schedule_lag_p99_us"))
        if vals("loadgen_schedule_lag_p99_us") else None,
    }


def change_pct(first, last):
    if first is None or last is None or first == 0:
        return None
    return 100.0 * (last - first) / first


def judge(soak, args):
    if getattr(soak, "skipped", ""):
        return {"server": soak.name, "pass": True, "skipped": soak.skipped, "failed": [], "minutes": []}
    path = os.path.join(soak.out, soak.name + ".loadgen.json")
    loadgen = json.load(open(path)) if os.path.exists(path) else {}
    rows = minute_series(soak, loadgen, args.minutes)
    w = min(args.window, max(1, args.minutes // 2))
    first, last = window(rows[:w]), window(rows[-w:])
    summary = loadgen.get("summary", {})
    errors = sum(summary.get("errors", {}).values()) + summary.get("lost", {}).get("total", 0)
    checks = {
        "errors": {"value": errors, "ok": bool(loadgen) and errors == 0},
        "series": {"value": sum(r["seconds_missing"] for r in rows),
                   "ok": bool(loadgen) and all(r["seconds_missing"] == 0 for r in rows)},
    }
    for key, metric in (("rss", "server_rss_kb"), ("fds", "server_fds"), ("cpu", "server_cpu_us_per_msg")):
        c = change_pct(first[metric], last[metric])
        checks[key] = {"first": first[metric], "last": last[metric], "change_pct": c,
                       "ok": c is not None and abs(c) <= args.tolerance}
    failed = [k for k in sorted(args.gates) if not checks[k]["ok"]]
    if soak.failure:
        failed.insert(0, soak.failure)
    return {"server": soak.name, "pass": not failed, "failed": failed, "checks": checks,
            "first": first, "last": last, "unsent": summary.get("unsent", 0),
            "requests": summary.get("requests", 0), "minutes": rows}


def report(soaks, args):
    servers = [judge(s, args) for s in soaks]
    return {"schema": "iomodels.soak/1",
            "config": {"minutes": args.minutes, "rate": args.rate, "connections": args.connections,
                       "size": args.size, "protocol": args.protocol, "warmup_s": args.warmup,
                       "window_minutes": args.window, "tolerance_pct": args.tolerance,
                       "gates": sorted(args.gates), "side_by_side": len(soaks),
                       "server_args": args.server_args},
            "loadavg": open("/proc/loadavg").read().split()[:3],
            "pass": all(s["pass"] for s in servers), "servers": servers}


def fmt(v, spec="{:.0f}"):
    return "-" if v is None else spec.format(v)


def table(rep):
    w = rep["config"]["window_minutes"]
    out = [f"first {w} min -> last {w} min (change %); loadavg at the end {' '.join(rep['loadavg'])}",
           f"{'server':21} {'errors':>6} {'RSS kB':>20} {'fds':>7} {'CPU us/msg':>21} {'p99 us':>12} "
           f"{'loadgen RSS kB':>15} {'lag p99 us':>13} {'miss':>4}  verdict"]
    for s in rep["servers"]:
        if s.get("skipped"):
            out.append(f"{s['server']:21} skipped: {s['skipped']}")
            continue
        c, f, l = s["checks"], s["first"], s["last"]
        out.append(
            f"{s['server']:21} {c['errors']['value']:>6} "
            f"{fmt(c['rss']['first']):>6}->{fmt(c['rss']['last']):>6} ({fmt(c['rss']['change_pct'], '{:+.1f}')}) "
            f"{fmt(c['fds']['first']):>3}->{fmt(c['fds']['last']):>3} "
            f"{fmt(c['cpu']['first'], '{:.2f}'):>6}->{fmt(c['cpu']['last'], '{:.2f}'):>6} "
            f"({fmt(c['cpu']['change_pct'], '{:+.1f}')}) "
            f"{fmt(f['p99_us_median']):>5}->{fmt(l['p99_us_median']):>5} "
            f"{fmt(f['loadgen_rss_kb']):>7}->{fmt(l['loadgen_rss_kb']):>7} "
            f"{fmt(f['loadgen_schedule_lag_p99_us']):>6}->{fmt(l['loadgen_schedule_lag_p99_us']):>6} "
            f"{c['series']['value']:>4}  "
            + ("pass" if s["pass"] else "FAIL: " + ", ".join(s["failed"])))
    out.append("soak: " + ("pass" if rep["pass"] else "FAIL"))
    return "\n".join(out)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(prog="soak_figures.py", description="The table again from a finished soak.")
    ap.add_argument("soak_json", help="OUT/soak.json of a soak.py run")
    print(table(json.load(open(ap.parse_args().soak_json))))
