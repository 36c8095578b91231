#!/usr/bin/python3
"""Prints one field of a results folder's run context: run_context_field.py RESULTS_DIR FIELD
(None when absent). lab/wan_rtt.sh asks for link_emulation (netem or the delay line)."""
import sys

from lab_runs import load_run

print(load_run(sys.argv[1])["context"].get(sys.argv[2]))
