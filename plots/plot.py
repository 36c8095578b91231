#!/usr/bin/python3
"""The report of a results folder (figures and index.html): `/usr/bin/python3 plots/plot.py --help`.

The code is iomodels_plots/plot.py; this script is its entry point, and running
it puts plots/ on Python's path, where the package is found."""
import sys

from iomodels_plots.plot import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
