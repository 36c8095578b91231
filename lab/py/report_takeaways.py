#!/usr/bin/python3
"""The takeaways of a results folder's report, one per line (argv[1]: the folder)."""
import sys

from lab_runs import load_run
from iomodels_plots.report_data import index_cases  # plots/ is on PYTHONPATH from lib.sh
from iomodels_plots.report_rules import takeaways
run = load_run(sys.argv[1])
for s, _ in takeaways(run, index_cases(run)):
    print(" -", s)
