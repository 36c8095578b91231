#!/usr/bin/python3
"""Google Benchmark JSON (stdin) as ns per request (cpu_time / 16 requests a
batch), one line per benchmark, labelled with argv[1] (lab/http_parser_cost.sh)."""
import json, sys
for b in json.load(sys.stdin)["benchmarks"]:
    print(f"{sys.argv[1]:4} {b['name']:32} {b['cpu_time'] / 16:8.1f} ns/request (cpu)")
