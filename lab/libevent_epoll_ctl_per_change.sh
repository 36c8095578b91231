#!/usr/bin/env bash
# Prints: epoll_ctl calls per interest change for libevent's two-event pattern
# (--events two, the default), the single re-assigned event (--events one),
# and epoll_lt beside them.
# Run: BIN=$ROOT/build lab/libevent_epoll_ctl_per_change.sh   (~1 min; needs strace)
# Scenario: echo 12 MiB to a slow reader. The client sends 12 MiB at once and
# reads 64 KiB every 5 ms, so the server's out buffer hits its cap again and
# again: each time it stops reading and watches for writability, then
# reverses. Kernel-counted epoll_ctl calls over the whole server process
# (`strace -f -c -e trace=epoll_ctl -p PID`), less the setup (listener,
# signal pipe, the connection's ADD and DEL), against the interest changes
# the server counted (libevent: extra.event_rearms; epoll_lt: its own
# epoll_ctl MODs). Counts, not timings: a loaded machine changes the number
# of episodes, not the calls per change.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
need strace
BIN=${BIN:-$ROOT/build}
exec /usr/bin/python3 "$LAB/py/libevent_epoll_ctl_per_change.py" "$BIN"
