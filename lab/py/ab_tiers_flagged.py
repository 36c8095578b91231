#!/usr/bin/python3
"""One line per tier of a `harness ab` verdict: ab_tiers_flagged.py AB_JSON prints, for the
deterministic, baseline, fixed-load and capacity tiers, how many cases it gated and which it
flagged, with each flagged case's reason (lab/gate_injections.sh, lab/gate_validation.sh)."""
import json, sys
ab = json.load(open(sys.argv[1]))
tiers = {}
for name, t in ab.get("tiers", {}).items():
    tiers[name] = t["cases"]
for c in ab.get("cases", []):
    tiers.setdefault(c.get("tier", "capacity"), []).append(c)
for name, cases in sorted(tiers.items()):
    flagged = [c for c in cases if c["verdict"] in ("regression", "accepted")]
    gated = sum(1 for c in cases if c["verdict"] != "not gated")
    why = "; ".join(f"{c['name']}: " + (c.get("reason") or ", ".join(c.get("reasons", [])))[:160] for c in flagged)
    print(f"{name}: {len(flagged)} flagged of {gated} gated" + (f" -- {why}" if why else ""))
