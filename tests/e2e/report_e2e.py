#!/usr/bin/python3
"""End to end: the smoke suite through `harness run`, then plots/plot.py, then
check_report.py on the page against the run (every link and image resolves,
every server has a panel, every flagged case is marked, nothing from the
network).

usage: report_e2e.py --harness BIN --bin-dir DIR   (exit 0 pass, 1 fail, 2 usage)"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"


def step(what, cmd, timeout):
    # check_report.py --run reads the run through iomodels_plots.run_loader.
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "plots"))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    print(f"report_e2e: {what}: exit {r.returncode}")
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-4000:], sep="\n")
    return r.returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--harness", required=True)
    ap.add_argument("--bin-dir", required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="report-e2e-")
    out = os.path.join(tmp, "smoke")
    ok = (step("harness run smoke", [a.harness, "run", "--suite", os.path.join(ROOT, "harness/suites/smoke.json"),
                                     "--out", out, "--bin-dir", a.bin_dir, "--progress", "off"], 240)
          and step("plot.py", [PY, os.path.join(ROOT, "plots/plot.py"), out], 240)
          and step("check_report.py", [PY, os.path.join(HERE, "check_report.py"), os.path.join(out, "index.html"),
                                       "--run", os.path.join(out, "run.json")], 60))
    if ok:
        shutil.rmtree(tmp)
    else:
        print(f"report_e2e: kept {tmp}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
