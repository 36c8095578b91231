#!/usr/bin/python3
"""Kernel-counted syscalls per message of each side of a `harness ab` folder
(base/ and head/ runs), median over rounds, by name (lab/syscall_counting_cost.sh)."""
import statistics, sys

from lab_runs import load_run
from iomodels_plots.run_loader import SERVER_CPU, round_value
d = sys.argv[1]
for side in ("base", "head"):
    run = load_run(f"{d}/{side}")
    for c in run["cases"]:
        ks = [r["kernel_syscalls"] for r in c["repetitions"] if "total_per_message" in r.get("kernel_syscalls", {})]
        if not ks:
            print(side, c["name"], "no kernel counts:", c["repetitions"][0].get("kernel_syscalls"))
            continue
        tot = statistics.median(k["total_per_message"] for k in ks)
        names = sorted({n for k in ks for n in k["per_message"]})
        by = {n: statistics.median(k["per_message"].get(n, 0) for k in ks) for n in names}
        cpu = statistics.median(round_value(r, SERVER_CPU) for r in c["repetitions"])
        print(f"{side:5} {c['name']}: kernel syscalls/msg {tot:.3f} over {len(ks)} rounds "
              f"({', '.join(f'{n} {v:.3f}' for n, v in by.items() if v >= 0.001)}); CPU µs/msg median {cpu:.3f}")
