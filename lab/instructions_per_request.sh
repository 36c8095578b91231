#!/usr/bin/env bash
# Prints: one row per server, user-space instructions per request of its hot
# path (callgrind: the server's own instructions, libc included, kernel
# excluded), echo 64 B at c10; with BEFORE=DIR (a build folder of an older
# revision) that revision's figure and the change beside it.
# Run: lab/instructions_per_request.sh            (build/ of this checkout; ~15 min)
#      BIN=build BEFORE=/tmp/old/build N1=20000 N2=40000 ONLY=epoll_lt,poll lab/instructions_per_request.sh
# Needs valgrind (3.19 lacks epoll_pwait2: a server calling it would fail under it).
# Each server runs twice at two fixed request counts; the difference divided by
# the difference of the counts cancels start-up and shutdown.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
need valgrind
BIN=${BIN:-$ROOT/build}
exec /usr/bin/python3 "$LAB/py/instructions_per_request.py" "$BIN" "${BEFORE:-}" "${N1:-20000}" "${N2:-40000}" "${ONLY:-}" "${CONNECTIONS:-10}"
