#!/usr/bin/python3
"""Per-model cost table of one run: callgrind, fixed-load CPU and kernel-counted syscalls.

usage: cost_table.py RUN_DIR

Prints, per server: callgrind instructions per message at each workload of the
run's callgrind table; for each fixed-load cost scenario, the server CPU per
message (median µs), its paired ratio to epoll_lt with the interval, and the
kernel-counted syscalls per message by name; then the fractions of cases that
are client_limited and co_saturated."""
from lab_runs import load_run
from iomodels_plots.run_loader import SERVER_CPU, paired, round_value
import sys

run = load_run(sys.argv[1])
cg = run.get("callgrind", {})
if cg.get("available"):
    ws = cg["workloads"]
    print("callgrind instructions per message:")
    print(f"{'server':22}" + "".join(f"{w:>16}" for w in ws))
    for s, per in sorted(cg["servers"].items()):
        cells = []
        for w in ws:
            v = per.get(w, {})
            cells.append(f"{v['instructions_per_message']:>16.0f}" if "instructions_per_message" in v else f"{'-':>16}")
        print(f"{s:22}" + "".join(cells))
else:
    print("callgrind:", cg.get("reason"))

scen = {}
for c in run["cases"]:
    if not c["group"].startswith("cost"):
        continue
    cid = c["case_id"]
    scen.setdefault(cid, []).append(c)
for cid, cases in scen.items():
    print(f"\nfixed load {cid}: server CPU µs/msg, ratio to epoll_lt [interval], kernel syscalls/msg")
    for c in cases:
        reps = [r for r in c.get("repetitions", []) if r.get("server_cpu")]
        cpu = sorted(v for v in (round_value(r, SERVER_CPU) for r in reps) if v is not None)
        med = cpu[len(cpu) // 2] if cpu else float("nan")
        pr = paired(c, SERVER_CPU) or {}
        ks = c.get("aggregate", {}).get("kernel_syscalls_per_message") or {}
        by = ", ".join(f"{k} {v:.2f}" for k, v in sorted(ks.get("by_name", {}).items(), key=lambda x: -x[1]) if v >= 0.01)
        ratio = f"{pr['median']:.3f} [{pr['lo']:.3f}, {pr['hi']:.3f}]" if pr else "-"
        tot = f"{ks['total']:.2f}" if ks else "-"
        label = c["server"] + (f"[{c['variant']}]" if c["variant"] else "")
        print(f"  {label:24} {med:7.2f}  {ratio:24} {tot:>6}  {by}")

cases = [c for c in run["cases"] if c.get("status") != "skipped"]
cl = sum(1 for c in cases if c.get("flags", {}).get("client_limited"))
co = sum(1 for c in cases if c.get("flags", {}).get("co_saturated"))
print(f"\ncases: {len(cases)}; client_limited {cl} ({cl / len(cases):.0%}); co_saturated {co} ({co / len(cases):.0%})")
