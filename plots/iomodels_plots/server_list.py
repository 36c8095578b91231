"""The list of servers (name, family, source, colour) that configure writes
from servers/CMakeLists.txt into build/servers.json. Plots and reports take
every model's order, family and colour from it, never from a list of their own.

Looked up, first found wins: RESULTS_DIR/servers.json (the harness copies the
list of the build that made the run), $IOMODELS_BUILD_DIR/servers.json, then
build/servers.json at the top of the source tree."""
import hashlib
import json
import os

from . import ROOT

FAMILIES = ["threads", "readiness", "signals", "completion", "framework", "other"]


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


def model_of(row):
    """The server of a row label: "io_uring" for "io_uring[--setup plain]"
    (row labels are composed by run_loader.row_of)."""
    return row.split("[", 1)[0]


class Servers:
    """Order, family, source file and colour of every model, from one list.
    Lookups take a server name or a row label ("io_uring[--setup plain]").
    Without a list (an old build) families are "other" and colours come from
    the name's hash, which is still stable across runs."""

    def __init__(self, entries, source="servers.json"):
        self.entries = entries
        self.source = source
        self.names = [e["name"] for e in entries]
        self._by_name = {e["name"]: e for e in entries}

    def colour(self, name):
        e = self._by_name.get(model_of(name))
        c = e["color"] if e and e.get("color") else "#" + hashlib.md5(name.encode()).hexdigest()[:6]
        if name != model_of(name):
            # A variant: its server's hue, paler, so the pair reads as one model.
            rgb = [int(c[i:i + 2], 16) for i in (1, 3, 5)]
            c = "#" + "".join(f"{int(v + (255 - v) * 0.45):02x}" for v in rgb)
        return c

    def family(self, name):
        return self._by_name.get(model_of(name), {}).get("family", "other")

    def source_file(self, name):
        return self._by_name.get(model_of(name), {}).get("source", f"servers/{model_of(name)}.cpp")

    def index(self, name):
        return self.names.index(model_of(name)) if model_of(name) in self._by_name else len(self.names)

    def list_order(self, names):
        """In the list's order (the README table's rows)."""
        return sorted(set(names), key=lambda n: (self.index(n), n))

    def order(self, names):
        """Grouped by family (threads, readiness, signals, completion,
        framework), list order inside a family (the report's rows)."""
        def key(n):
            fam = self.family(n)
            return (FAMILIES.index(fam) if fam in FAMILIES else len(FAMILIES), self.index(n), n)
        return sorted(set(names), key=key)


def load_servers(results_dir=None):
    """The Servers of a results folder's list, or an empty one saying why."""
    try:
        entries = load(results_dir)
    except (OSError, ValueError) as e:
        return Servers([], f"no server list ({e}); families unknown, colours from name hashes")
    return Servers(entries, "servers.json")
