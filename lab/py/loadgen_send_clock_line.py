#!/usr/bin/python3
"""One line of lab/loadgen_send_clock.sh: a loadgen result (JSON on stdin) as
requests, latency p50 and min, and send lag p50, labelled with argv[1]."""
import json
import sys

side = sys.argv[1]
j = json.load(sys.stdin)
l, s = j["latency_us"], j.get("schedule_lag_us", {})
print("%s: requests %d  latency p50 %.1f us  min %.1f us  send lag p50 %s us"
      % (side, j["summary"]["requests"], l["p50"], l["min"], s.get("p50", "(not recorded)")))
