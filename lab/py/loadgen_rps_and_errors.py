#!/usr/bin/python3
"""A loadgen result file (argv[1]) as "REQUESTS_PER_S ERRORS" on one line
(errors: every counted kind summed), for lab/http_parser_cost.sh."""
import json
import sys

s = json.load(open(sys.argv[1]))["summary"]
e = s.get("errors", {})
bad = sum(v for k, v in e.items() if isinstance(v, (int, float)))
print(s["requests_per_s"], bad)
