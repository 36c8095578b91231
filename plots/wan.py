#!/usr/bin/python3
"""The WAN suite's figures, one line per RTT: `/usr/bin/python3 plots/wan.py --help`.

The code is iomodels_plots/wan.py; this script is its entry point, and running
it puts plots/ on Python's path, where the package is found."""
import sys

from iomodels_plots.wan import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
