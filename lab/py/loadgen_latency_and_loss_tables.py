#!/usr/bin/python3
"""The two tables of lab/loadgen_latency_and_loss.sh from its output folder:
closed-loop p50/p99 of the old and new loadgen, and lost requests by cause
against a server that stops answering one connection."""
import json, os, statistics as st, sys

# Not load_loadgen: the old loadgen's files predate the schema; the field names are the loader's all the same.
from iomodels_plots.run_loader import loadgen_throughput

out = sys.argv[1]
load = lambda n: json.load(open(os.path.join(out, n)))
print("1. closed loop vs epoll_lt (echo 64 B, server CPU 0, loadgen CPU 1), 3 interleaved rounds, medians (µs)")
print(f"{'conns':>5} {'old p50':>9} {'new p50':>9} {'new/old':>8} {'old p99':>9} {'new p99':>9} {'new/old':>8}"
      f" {'new lag p50':>11} {'new lag p99':>11} {'old req/s':>10} {'new req/s':>10}")
for c in (1, 16, 64, 256):
    o = [load(f"closed_old_c{c}_r{r}.json") for r in (1, 2, 3)]
    n = [load(f"closed_new_c{c}_r{r}.json") for r in (1, 2, 3)]
    med = lambda js, *k: st.median([eval("j" + "".join(f"[{x!r}]" for x in k)) for j in js])
    r50 = st.median([b["latency_us"]["p50"] / a["latency_us"]["p50"] for a, b in zip(o, n)])
    r99 = st.median([b["latency_us"]["p99"] / a["latency_us"]["p99"] for a, b in zip(o, n)])
    print(f"{c:5d} {med(o,'latency_us','p50'):9.1f} {med(n,'latency_us','p50'):9.1f} {r50:8.3f}"
          f" {med(o,'latency_us','p99'):9.1f} {med(n,'latency_us','p99'):9.1f} {r99:8.3f}"
          f" {med(n,'schedule_lag_us','p50'):11.1f} {med(n,'schedule_lag_us','p99'):11.1f}"
          f" {st.median(map(loadgen_throughput, o)):10.0f} {st.median(map(loadgen_throughput, n)):10.0f}")
print("\n2. server that stops answering 1 of 16 connections (--pipeline 4, --timeout 1s)")
print(f"{'loadgen':>7} {'requests':>9} {'timeouts':>8} {'lost':>5} {'lost by cause':>32} {'unsent':>6} {'p99 µs':>9} {'max µs':>10}")
for which in ("old", "new"):
    j = load(f"hang_{which}.json"); s = j["summary"]
    lost = s.get("lost")
    causes = ", ".join(f"{k} {v}" for k, v in lost.items() if k != "total" and v) if lost else "(not counted)"
    print(f"{which:>7} {s['requests']:9d} {s['errors']['timeout']:8d} {str(lost['total']) if lost else '-':>5}"
          f" {causes:>32} {str(s.get('unsent', '-')):>6} {j['latency_us']['p99']:9.1f} {j['latency_us']['max']:10.1f}")
