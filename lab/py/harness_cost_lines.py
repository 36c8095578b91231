#!/usr/bin/python3
"""`harness cost` results OUT/cost_base.json and OUT/cost_inject.json as one line each:
callgrind instructions and kernel syscalls per message (lab/syscall_counting_cost.sh)."""
import json, sys
for tag in ("base", "inject"):
    j = json.load(open(f"{sys.argv[1]}/cost_{tag}.json"))
    cg, ks = j.get("callgrind", {}), j.get("kernel_syscalls", {})
    print(f"{tag:6}: callgrind instr/msg {cg.get('instructions_per_message', cg)}; kernel syscalls/msg "
          f"{ks.get('total_per_message', ks)} {ks.get('per_message', '')}")
