"""The one place the lab's programs read a results folder.

Every lab program that reads a run (RESULTS_DIR/run.json, written by
`harness run` or `harness ab`) calls load_run() from here: the plots' run
loader (iomodels_plots.run_loader: plots/ is on PYTHONPATH from lab/lib.sh), which checks the
schema and gives every case its case_id and variant.
"""
from iomodels_plots.run_loader import load_run  # noqa: F401 (re-exported)


def start_server(bin_dir, exe, args, tmp, label=None):
    """Start BIN_DIR/EXE on port 0, pinned to CPU 0, with its stats file in
    TMP; wait for its "listening HOST:PORT" line. Returns (process, port,
    stats path); exits naming LABEL (default "EXE ARGS") when it does not start."""
    import os
    import subprocess
    stats = os.path.join(tmp, "stats.json")
    if os.path.exists(stats):
        os.unlink(stats)
    p = subprocess.Popen(["taskset", "-c", "0", os.path.join(bin_dir, exe), "--port", "0", "--stats-file", stats] + args,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    if not line or line[0] != "listening":
        raise SystemExit(f"{label or ' '.join([exe] + args)} did not start")
    return p, int(line[1].rsplit(":", 1)[1]), stats
