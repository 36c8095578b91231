#!/usr/bin/env bash
# Prints: each model's settings for large messages against epoll_lt, echo c16
# at 64 B, 4 KiB and 64 KiB: io_uring recv size and POLL_FIRST, multishot's
# provided-buffer size, libevent_bufferevent's read/write settings, libevent's
# event pattern, sigio's signalfd against sigwaitinfo. Per case: req/s ratio,
# server CPU µs per reply, syscalls per reply by name (strace -c), load average.
# Run: BIN=$ROOT/build ROUNDS=3 DURATION=2 lab/model_settings_large_messages.sh  (~12 min)
#      ONLY=regex on labels (epoll_lt always stays), CASES=s64,s4096,s65536,
#      PERF=0 skips the syscall pass (which needs strace).
# Interleaved: for each round, for each case, every configuration once (the
# order rotates per round), server pinned to CPU 0, loadgen to CPU 1. Ratios
# are per round (config / epoll_lt of the same round and case), then the
# median over rounds. The syscall pass is separate (ptrace slows the server,
# so it is not in the timings; `perf stat -p` with syscall tracepoints
# counts nothing for an attached pid on this VM).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
[[ ${PERF:-1} == 0 ]] || need strace
BIN=${BIN:-$ROOT/build}
exec /usr/bin/python3 "$LAB/py/model_settings_large_messages.py" "$BIN" "${ROUNDS:-3}" "${DURATION:-2}" "${WARMUP:-0.5}" "${PERF:-1}"
