#!/usr/bin/python3
"""The results table of a run (and the README's, with --markdown): `/usr/bin/python3 plots/table.py --help`.

The code is iomodels_plots/table.py; this script is its entry point, and running
it puts plots/ on Python's path, where the package is found."""
import sys

from iomodels_plots.table import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
