#!/usr/bin/python3
"""A run made the committed baseline of its machine class: `/usr/bin/python3 plots/make_baseline.py --help`.

The code is iomodels_plots/make_baseline.py; this script is its entry point, and running
it puts plots/ on Python's path, where the package is found."""
import sys

from iomodels_plots.make_baseline import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
