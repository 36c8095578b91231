"""The one place the lab's programs read a results folder.

Every lab program that reads a run (RESULTS_DIR/run.json, written by
`harness run` or `harness ab`) calls load_run() from here: the plots' run
loader (plots/run_loader.py, on PYTHONPATH from lab/lib.sh), which checks the
schema and gives every case its case_id and variant.
"""
from run_loader import load_run  # noqa: F401 (re-exported)
