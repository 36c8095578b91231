#!/usr/bin/python3
"""The tables of lab/frameworks_vs_epoll.sh from its output folder: throughput and server CPU
per round (ratio to epoll_lt), syscalls per request (strace -c) beside the server's own
counters, and the load-independent costs (callgrind, heaptrack).
Usage: frameworks_vs_epoll_tables.py OUT_DIR CLK_TCK ROUNDS"""
import json, statistics, sys, glob, os, re

from iomodels_plots.run_loader import load_loadgen, loadgen_throughput

out, tck, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
servers = ["epoll_lt", "asio", "libuv"]
cases = ["c16", "c64", "c64p16"]
cpu = {}
for line in open(os.path.join(out, "cpu.txt")):
    n, c, r, t = line.split(); cpu[(n, c, int(r))] = int(t) / tck
def lg(n, c, r):
    return load_loadgen(f"{out}/{c}.{n}.r{r}.loadgen.json")
print("\n== Throughput and server CPU (medians over %d rounds; ratio = per-round framework/epoll_lt)" % rounds)
print(f"{'case':8} {'server':9} {'req/s':>10} {'ratio':>7} {'ratio min..max':>16} {'cpu us/req':>11} {'+us/req vs lt':>14}")
targets = {"c16": 0.95, "c64": 0.95, "c64p16": 0.9}
for c in cases:
    for n in servers:
        rps, ratios, us, dus = [], [], [], []
        for r in range(rounds):
            s, b = lg(n, c, r), lg("epoll_lt", c, r)
            rps.append(loadgen_throughput(s)); ratios.append(loadgen_throughput(s) / loadgen_throughput(b))
            s, b = s["summary"], b["summary"]
            u = cpu[(n, c, r)] * 1e6 / max(1, s["requests"]); ub = cpu[("epoll_lt", c, r)] * 1e6 / max(1, b["requests"])
            us.append(u); dus.append(u - ub)
            errs = sum(v for v in s["errors"].values())
            if errs: print(f"  ! {n} {c} round {r}: {errs} errors")
        med = statistics.median(ratios)
        flag = "" if n == "epoll_lt" else ("  ok" if med >= targets[c] else f"  MISSES {targets[c]}x")
        print(f"{c:8} {n:9} {statistics.median(rps):10.0f} {med:7.3f} {min(ratios):7.3f}..{max(ratios):<7.3f} "
              f"{statistics.median(us):11.2f} {statistics.median(dus):+14.2f}{flag}")
print("\n== Syscalls per request (strace -c -f, fixed -n run) and the server's own counters per request")
for c in ["c16", "c64p16"]:
    for n in servers:
        tag = f"{out}/strace.{c}.{n}"
        req = json.load(open(tag + ".loadgen.json"))["summary"]["requests"]
        calls = {}
        for line in open(tag + ".strace"):
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)$", line)
            if m and m.group(3) != "total": calls[m.group(3)] = (int(m.group(1)), int(m.group(2) or 0))
        total = sum(v[0] for v in calls.values())
        st = json.load(open(tag + ".stats.json"))["counters"]
        own = st.get("syscalls", {}); own_total = sum(own.values())
        detail = ", ".join(f"{k} {v[0]/req:.2f}" + (f" ({v[1]/req:.2f} err)" if v[1] else "")
                           for k, v in sorted(calls.items(), key=lambda kv: -kv[1][0]) if v[0] / req >= 0.005)
        print(f"{c:7} {n:9} strace {total/req:5.2f}/req: {detail}")
        print(f"{'':17} own counters {own_total/req:5.2f}/req, wakeups {st['wakeups']/req:.3f}/req, "
              f"events {st['events']/req:.2f}/req (server's whole life: this run only)")
lim = os.path.join(out, "limits.txt")
if os.path.getsize(lim):
    print("\n== Load-independent costs (user-space instructions per request at c1, callgrind; "
          "heap allocations per 1000 requests at c16 p4, heaptrack)")
    for line in open(lim):
        n, k, v = line.split(); print(f"{n:9} {k:32} {v}")
