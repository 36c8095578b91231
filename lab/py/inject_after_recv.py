#!/usr/bin/python3
"""Injects a known cost after a readiness model's first `ok = recv_once(...)` call,
in a throwaway copy of the model's file (lab/gate_injections.sh, lab/gate_error_rates.sh).
Usage: inject_after_recv.py FILE KIND N
  KIND getppid: N getppid() syscalls per recv (kernel-counted syscalls, fixed-load CPU)
  KIND loop:    a dec/jnz loop of N iterations per recv: exactly 2N user-space
                instructions plus one to load the counter (callgrind; N in the
                thousands is a CPU slowdown the capacity tier sees)"""
import re, sys
path, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
src = open(path).read()
call = re.search(r"ok = recv_once\((\*?\w+)\);", src)
assert call, f"{path}: no `ok = recv_once(...)` call: update the injection anchor"
if kind == "getppid":
    extra = f"for (int k = 0; k < {n}; ++k) (void)::getppid();"
elif kind == "loop":
    extra = (f'{{ unsigned long left = {n}; asm volatile("1: dec %0\\n\\tjnz 1b" : "+r"(left) : : "cc"); }}')
else:
    sys.exit(f"inject_after_recv.py: unknown KIND '{kind}' (getppid | loop)")
src = src[:call.start()] + "{ " + call.group(0) + " " + extra + " }  /* injected (lab) */" + src[call.end():]
if kind == "getppid" and "#include <unistd.h>" not in src:  # after the splice: it moves the offsets
    src = src.replace("#include <sys/socket.h>", "#include <sys/socket.h>\n#include <unistd.h>", 1)
open(path, "w").write(src)
