#!/usr/bin/python3
"""The README's figures, drawn from the committed baseline: `/usr/bin/python3 plots/readme_figures.py --help`.

The code is iomodels_plots/readme_figures.py; this script is its entry point, and running
it puts plots/ on Python's path, where the package is found."""
import sys

from iomodels_plots.readme_figures import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
