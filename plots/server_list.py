"""The list of servers (name, family, source, colour) that configure writes
from servers/CMakeLists.txt into build/servers.json. Plots and reports take
every model's order, family and colour from it, never from a list of their own.

Looked up, first found wins: RESULTS_DIR/servers.json (the harness copies the
list of the build that made the run), $IOMODELS_BUILD_DIR/servers.json, then
build/servers.json at the top of the source tree."""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNKNOWN_COLOUR = "#000000"  # a peer (nginx, wrk) or a server this list does not name


def candidates(results_dir=None):
    out = []
    if results_dir:
        out.append(os.path.join(results_dir if os.path.isdir(results_dir) else os.path.dirname(results_dir),
                                "servers.json"))
    if os.environ.get("IOMODELS_BUILD_DIR"):
        out.append(os.path.join(os.environ["IOMODELS_BUILD_DIR"], "servers.json"))
    out.append(os.path.join(ROOT, "build", "servers.json"))
    return out


def load(results_dir=None):
    """The list as [{"name", "family", "source", "color"}, ...] in list order.
    Raises FileNotFoundError naming every place it looked."""
    tried = candidates(results_dir)
    for path in tried:
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
    raise FileNotFoundError("no servers.json (configure writes it into build/: "
                            "cmake -S . -B build); looked at " + ", ".join(tried))


class Servers:
    """Order, colour and family lookups over one list."""

    def __init__(self, entries):
        self.entries = entries
        self.names = [e["name"] for e in entries]
        self._by_name = {e["name"]: e for e in entries}

    def colour(self, name):
        return self._by_name.get(name, {}).get("color", UNKNOWN_COLOUR)

    def family(self, name):
        return self._by_name.get(name, {}).get("family", "other")

    def index(self, name):
        return self.names.index(name) if name in self._by_name else len(self.names)

    def order(self, names):
        return sorted(names, key=lambda n: (self.index(n), n))
