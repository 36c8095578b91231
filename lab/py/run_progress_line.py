#!/usr/bin/python3
"""How far an interrupted run got: run_progress_line.py RESULTS_DIR prints its
complete flag, its progress and how many cases hold repetitions
(lab/soak_and_interrupt.sh interrupt)."""
import sys

from lab_runs import load_run

j = load_run(sys.argv[1])
print(" complete:", j.get("complete", "(no field)"), " progress:", j.get("progress", "(no field)"),
      " cases with reps:", sum(1 for c in j["cases"] if c["repetitions"]))
