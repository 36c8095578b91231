#!/usr/bin/python3
"""Print the headline table of a results folder: one row per case, medians over
repetitions — req/s, p50 and p99 in µs, server CPU µs/request, and the loadgen's
errors summed over repetitions (every kind). Usage: plots/table.py RESULTS_DIR"""
import json, os, sys


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) == 2 else 2
    path = sys.argv[1]
    run = json.load(open(os.path.join(path, "run.json") if os.path.isdir(path) else path))
    print(f"{'case':42} {'status':7} {'req/s':>10} {'p50 µs':>9} {'p99 µs':>9} {'CPU µs/req':>10} {'errors':>6}")
    for c in run["cases"]:
        errors = sum(sum(r.get("loadgen", {}).get("summary", {}).get("errors", {}).values())
                     for r in c.get("repetitions", []))
        if c["status"] != "ok":
            print(f"{c['name']:42} {c['status']:7} {c.get('reason', '')[:60]}")
            continue
        a = c["aggregate"]
        med = lambda k: a.get(k, {}).get("median", 0)
        print(f"{c['name']:42} {'ok':7} {med('requests_per_s'):10.0f} {med('p50_us'):9.0f} {med('p99_us'):9.0f} "
              f"{med('server_cpu_us_per_request'):10.1f} {errors:6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
