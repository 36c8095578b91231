#!/usr/bin/python3
"""One line per `harness ab` run for lab/gate_error_rates.sh: ab_summary_line.py AB_JSON prints
the cases flagged, gated/total, the median width of the CPU intervals and the cases not gated."""
import json, sys
d = json.load(open(sys.argv[1]))
flagged = [c["name"] for c in d["cases"] if c["verdict"] in ("regression", "accepted")]
ng = [c["name"] + " (" + c["reason"][:60] + ")" for c in d["cases"] if c["verdict"] == "not gated"]
cpu = [c["metrics"]["cpu_ns_per_request"] for c in d["cases"] if c.get("metrics", {}).get("cpu_ns_per_request")]
widths = sorted((m["hi"] - m["lo"]) for m in cpu if m.get("hi") is not None and m.get("lo") is not None)
med_w = widths[len(widths) // 2] if widths else float("nan")
print(f"flagged={len(flagged)} gated={d['summary']['gated']}/{d['summary']['cases']} "
      f"median_cpu_ci_width={med_w:.3f} {'; '.join(flagged)}" + (f" | not gated: {'; '.join(ng)}" if ng else ""))
