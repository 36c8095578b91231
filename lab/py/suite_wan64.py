#!/usr/bin/python3
"""Writes the wan suite cut to 64 connections with REPS rounds:
suite_wan64.py WAN_JSON OUT_JSON REPS."""
import json, sys
s = json.load(open(sys.argv[1]))
s["name"] = "wan64"
s["repetitions"] = int(sys.argv[3])
for g in s["groups"]:
    g["connections"] = [64]
json.dump(s, open(sys.argv[2], "w"), indent=1)
