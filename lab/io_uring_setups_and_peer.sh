#!/usr/bin/env bash
# Prints: io_uring setups (plain, coop, no registered ring fd), epoll_et and
# sigio, and liburing's own echo server as a peer, against epoll_lt: (1) req/s
# ratio per case (c16, c64, c64 p16, c256), (2) server CPU µs per request,
# (3) recv calls per message (epoll_lt, epoll_et, sigio) or io_uring_enter per
# message (io_uring configurations).
# Run: BIN=$ROOT/build ROUNDS=3 DURATION=2 lab/io_uring_setups_and_peer.sh
#      (ONLY=regex on config labels, CASES=c16,c64p16 narrow it while developing)
# Interleaved: for each round, for each case, every configuration once (the
# order rotates per round), server pinned to CPU 0, loadgen to CPU 1, echo 64 B.
# Ratios are per-round (config / epoll_lt of the same round and case), then the
# median over rounds. ~6 minutes.
# The peer (liburing examples/echo-server.c, built outside the repo):
#   ${TMPDIR:-/tmp}/iomodels-peers/echo-server  (see lab/README.md); skipped if absent.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
BIN=${BIN:-$ROOT/build}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-2}
WARMUP=${WARMUP:-0.5}
PEER=${PEER:-${TMPDIR:-/tmp}/iomodels-peers/echo-server}
exec /usr/bin/python3 "$LAB/py/io_uring_setups_and_peer.py" "$BIN" "$ROUNDS" "$DURATION" "$WARMUP" "$PEER"
