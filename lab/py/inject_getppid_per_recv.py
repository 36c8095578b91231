#!/usr/bin/python3
"""Injects N getppid() calls after epoll_lt's recv, in a throwaway worktree's copy
of servers/epoll_lt.cpp (lab/gate_error_rates.sh). Usage: inject_getppid_per_recv.py FILE N"""
import re, sys
p, n = sys.argv[1], int(sys.argv[2])
s = open(p).read()
anchor = "&& before & EPOLLIN) ok = recv_once(c);"
assert anchor in s, "epoll_lt.cpp changed: update the injection anchor"
s = s.replace(anchor, anchor[:-len("ok = recv_once(c);")] + f"{{ ok = recv_once(c); for (int k = 0; k < {n}; ++k) (void)::getppid(); }}"
              "  // injected slowdown (lab/gate_error_rates.sh)")
if "#include <unistd.h>" not in s:
    s = s.replace("#include <sys/epoll.h>", "#include <sys/epoll.h>\n#include <unistd.h>")
open(p, "w").write(s)
