"""Per model at 16 connections and 64 B, 4 KiB, 64 KiB echo messages (closed
loop): req/s as a multiple of epoll_lt's [interval], server CPU µs per message
(median round) and syscalls per message by name (the server's own counters
over the measured window, median round).

usage: per_model_size_table.py RUN_DIR"""
import argparse
import statistics

from lab_runs import load_run
from iomodels_plots.run_loader import THROUGHPUT, paired, row_of

SIZES = ("echo/c16/s64", "echo/c16/s4096", "echo/c16/s65536")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    run = load_run(ap.parse_args().run_dir)
    cases = {(row_of(c), c["case_id"]): c for c in run["cases"]}
    rows = sorted({row_of(c) for c in run["cases"] if "[" not in row_of(c)}, key=lambda r: r != "epoll_lt")
    for cid in SIZES:
        print(f"\n{cid}: req/s ÷ epoll_lt [interval] | server CPU µs/msg | syscalls/msg (server's counters)")
        for row in rows:
            c = cases.get((row, cid))
            if not c or not c.get("repetitions"):
                continue
            pr = paired(c, THROUGHPUT) or {}
            cpm = [r["cost_per_message"] for r in c["repetitions"] if r.get("cost_per_message")]
            cpu = statistics.median(x["cpu_us"] for x in cpm) if cpm else float("nan")
            names = sorted({n for x in cpm for n in x.get("syscalls", {})})
            by = {n: statistics.median(x.get("syscalls", {}).get(n, 0) for x in cpm) for n in names}
            ratio = f"{pr['median']:.2f}× [{pr['lo']:.2f}-{pr['hi']:.2f}]" if pr.get("median") else "ref" \
                if row == "epoll_lt" else c.get("status", "-")
            sc = ", ".join(f"{n} {v:.2f}" for n, v in sorted(by.items(), key=lambda x: -x[1]) if v >= 0.01)
            print(f"  {row:22} {ratio:22} {cpu:7.1f}  {sc}")


if __name__ == "__main__":
    main()
