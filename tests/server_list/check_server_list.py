#!/usr/bin/python3
"""The one list of servers holds: build/servers.json names exactly the servers
CMake listed (IOMODELS_SERVERS, the conformance suite's list), in order; every
entry has a valid family, an existing source and a #rrggbb colour of its own;
and every listed server was built. A server that is listed but not built fails
here instead of silently shrinking the conformance suite and the runs.

usage: check_server_list.py BUILD_DIR SOURCE_DIR NAME[;NAME...]"""
import json
import os
import re
import sys

FAMILIES = {"readiness", "threads", "signals", "completion", "framework"}


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    build, source, expected = argv[1], argv[2], [n for n in argv[3].split(";") if n]
    path = os.path.join(build, "servers.json")
    with open(path) as f:
        entries = json.load(f)
    errors = []
    names = [e.get("name") for e in entries]
    if names != expected:
        errors.append(f"{path} lists {names}, CMake listed {expected}")
    colours = {}
    for e in entries:
        n = e.get("name")
        if e.get("family") not in FAMILIES:
            errors.append(f"{n}: family {e.get('family')!r} is not one of {sorted(FAMILIES)}")
        if not os.path.isfile(os.path.join(source, e.get("source", ""))):
            errors.append(f"{n}: source {e.get('source')!r} does not exist")
        c = e.get("color", "")
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", c):
            errors.append(f"{n}: colour {c!r} is not #rrggbb")
        elif c.lower() in colours:
            errors.append(f"{n}: colour {c} is already {colours[c.lower()]}'s")
        colours[c.lower()] = n
        exe = os.path.join(build, n)
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            errors.append(f"{n}: listed but not built (no executable {exe}); build every target")
    for line in errors:
        print("server list: " + line, file=sys.stderr)
    if not errors:
        print(f"server list: {len(entries)} servers, all built")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
