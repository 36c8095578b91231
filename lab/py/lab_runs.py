"""The one place the lab's programs read a results folder.

Every lab program that reads a run (RESULTS_DIR/run.json, written by
`harness run` or `harness ab`) calls load_run() from here, so moving them to
another reader (the plots' run loader, which checks the schema) is a change
to this function alone.
"""
import json
import os


def load_run(folder):
    """The run.json of a results folder, as a dict."""
    with open(os.path.join(folder, "run.json")) as f:
        return json.load(f)
