#!/usr/bin/python3
"""The three tables of lab/harness_cpu_saturation_spread.sh from its output folder:
CPU per request by ticks against ns, the open-loop sweep with its saturated flag,
and the spread of absolute req/s against ratios paired by round."""
import os, statistics as st, sys

from lab_runs import load_run
from iomodels_plots.run_loader import P99, SERVER_CPU, median, round_value

out = sys.argv[1]
load = lambda n: load_run(os.path.join(out, n))

print("1. epoll_lt server CPU per request, ticks (/proc, 10 ms) vs ns (process CPU clock), 5 rounds")
print(f"{'case':24} {'ticks µs/req med [min-max]':>30} {'ns µs/req med [min-max]':>30} {'ticks/ns':>9}")
for c in load("cpu")["cases"]:
    reps = [r for r in c["repetitions"] if r["status"] != "failed"]
    t = [r["server_cpu"]["tick_us_per_request"] for r in reps]
    n = [round_value(r, SERVER_CPU) for r in reps]
    f = lambda v: f"{st.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]"
    ratio = st.median([a / b for a, b in zip(t, n) if b > 0])
    print(f"{c['name']:24} {f(t):>30} {f(n):>30} {ratio:9.3f}   ({c['status']})")

print("\n2. epoll_lt open loop, 16 connections, 3 rounds (medians)")
print(f"{'offered/s':>10} {'achieved/s':>11} {'p99 µs':>9} {'lag p99 µs':>11} {'saturated':>10}  why")
for c in load("open")["cases"]:
    reps = [r for r in c["repetitions"] if r["status"] != "failed"]
    ach = st.median([round_value(r) for r in reps])
    p99 = median(c, P99)
    lag = c["aggregate"].get("schedule_lag_us", {}).get("p99", float("nan"))
    why = next((r["flags"].get("saturated_reason", "") for r in reps if r["flags"].get("saturated")), "")
    print(f"{c['params']['rate']:10.0f} {ach:11.0f} {p99:9.0f} {lag:11.1f} {str(c['flags']['saturated']):>10}  {why}")

print("\n3. default suite c16 (echo 64 B): spread across rounds, absolute vs paired by round")
print(f"{'server':22} {'req/s per round':>30} {'max/min':>8} {'x epoll_lt per round':>26} {'max/min':>8}")
for c in load("c16")["cases"]:
    reps = sorted((r for r in c["repetitions"] if r["status"] != "failed"), key=lambda r: r["round"])
    a = [round_value(r) for r in reps]
    ref = {r["round"]: round_value(r) for case in load("c16")["cases"]
           if case["server"] == "epoll_lt" for r in case["repetitions"] if r["status"] != "failed"}
    ratios = [round_value(r) / ref[r["round"]] for r in reps if r["round"] in ref]
    sa = f"{max(a) / min(a):.2f}" if a and min(a) > 0 else "-"
    sr = f"{max(ratios) / min(ratios):.2f}" if ratios and min(ratios) > 0 else "-"
    print(f"{c['server']:22} {' '.join(f'{x:.0f}' for x in a):>30} {sa:>8} "
          f"{' '.join(f'{x:.2f}' for x in ratios):>26} {sr:>8}   {c['status']}")
