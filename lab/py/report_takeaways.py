#!/usr/bin/python3
"""The takeaways of a results folder's report, one per line (argv[1]: the folder)."""
import os, sys
# The report's own reading of a run (plots/report_data.py), not lab_runs: the
# takeaways need its case index.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plots"))
from report_data import load_run, index_cases
from report_rules import takeaways
run = load_run(sys.argv[1])
for s, _ in takeaways(run, index_cases(run)):
    print(" -", s)
