"""The report and figures of a harness results folder, as one package.

The programs are the thin scripts beside this folder (plots/plot.py,
plots/table.py, ...: `/usr/bin/python3 plots/NAME.py --help`); running one
puts plots/ on Python's path, which is how they find this package. Code
elsewhere (tests, lab/py) puts plots/ on PYTHONPATH and imports
`from iomodels_plots.run_loader import load_run`. Inside the package the
modules import each other relatively (`from .run_loader import ...`), so no
module name of the package lands on Python's path on its own."""
import os

# The repository this package belongs to (plots/iomodels_plots/ -> the root):
# results/schema, docs/models.md and build/servers.json are found from it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
