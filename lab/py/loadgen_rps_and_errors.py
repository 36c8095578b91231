#!/usr/bin/python3
"""A loadgen result file (argv[1]) as "REQUESTS_PER_S ERRORS" on one line
(errors: every counted kind summed), for lab/http_parser_cost.sh."""
import sys

from iomodels_plots.run_loader import load_loadgen, loadgen_throughput

result = load_loadgen(sys.argv[1])
s = result["summary"]
e = s.get("errors", {})
bad = sum(v for k, v in e.items() if isinstance(v, (int, float)))
print(loadgen_throughput(result), bad)
