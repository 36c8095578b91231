#!/usr/bin/python3
"""Medians of the old and new req/s and of the per-round ratios (three
space-separated lists as arguments), for lab/http_parser_cost.sh."""
import statistics as st, sys
o, n, r = ([float(x) for x in a.split()] for a in sys.argv[1:4])
print(f"median old {st.median(o):.0f} req/s, new {st.median(n):.0f} req/s, "
      f"median per-round ratio new/old {st.median(r):.4f} (min {min(r):.4f}, max {max(r):.4f})")
