"""The one place the lab's programs read a results folder.

Every lab program that reads a run (RESULTS_DIR/run.json, written by
`harness run` or `harness ab`) calls load_run() from here. lib.sh puts plots/
on PYTHONPATH, so this is the plots' run loader (plots/run_loader.py: it
checks the schema and gives every case its case_id and variant).
"""
try:
    from run_loader import load_run  # noqa: F401 (re-exported)
except ImportError:  # a tree from before plots/run_loader.py: read the JSON as it is
    import json
    import os

    def load_run(folder):
        """The run.json of a results folder (or the file itself), as a dict."""
        path = folder if folder.endswith(".json") else os.path.join(folder, "run.json")
        with open(path) as f:
            return json.load(f)
