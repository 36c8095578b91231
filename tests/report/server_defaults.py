#!/usr/bin/python3
"""The report's table of server defaults (plots/iomodels_plots/report_data.py
SERVER_DEFAULTS, which labels a variant "(= default)") agrees with what each
built server's --help prints ("--setup arg (=defer)"): a server whose default
changes fails here instead of mislabelling a row.

usage: PYTHONPATH=plots server_defaults.py BIN_DIR   (exit 0 agree, 1 disagree, 2 usage)"""
import os
import re
import subprocess
import sys

from iomodels_plots import report_data


def help_defaults(exe):
    """{"--option": "default"} from a server's --help."""
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30).stdout
    return dict(re.findall(r"^\s+(--[\w-]+) arg \(=([^)]*)\)", out, re.M))


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    bad = 0
    for server, opts in sorted(report_data.SERVER_DEFAULTS.items()):
        exe = os.path.join(argv[1], server)
        if not os.access(exe, os.X_OK):
            print(f"server_defaults: {server}: not built in {argv[1]}, not checked")
            continue
        got = help_defaults(exe)
        for opt, want in opts.items():
            if got.get(opt) != want:
                print(f"server_defaults: {server} {opt}: the report says default {want!r}, --help says "
                      f"{got.get(opt)!r}")
                bad += 1
            else:
                print(f"server_defaults: {server} {opt} = {want}: agrees")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
