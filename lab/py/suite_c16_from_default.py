#!/usr/bin/python3
"""Writes a suite of the default suite's c16 case only (echo 64 B, every server):
suite_c16_from_default.py DEFAULT_JSON OUT_JSON."""
import json, sys
d = json.load(open(sys.argv[1]))
json.dump({"name": "c16", "repetitions": d.get("repetitions", 3), "servers": d.get("servers", "all"),
           "defaults": d["defaults"], "groups": [{"name": "concurrency", "connections": 16}]}, open(sys.argv[2], "w"))
