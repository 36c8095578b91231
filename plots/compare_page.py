#!/usr/bin/python3
"""The page of harness compare / harness ab: `/usr/bin/python3 plots/compare_page.py --help`.

The code is iomodels_plots/compare_page.py; this script is its entry point, and running
it puts plots/ on Python's path, where the package is found."""
import sys

from iomodels_plots.compare_page import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
