#!/usr/bin/env bash
# Prints, by mode: the harness under faults.
#   soak      every server side by side for $MINUTES (30) at $RATE req/s (200)
#             each over $CONNS (4) connections, one loadgen each (harness/soak/
#             soak.py): per minute RSS, fds, CPU per message, p99; first and
#             last 5 minutes compared. Prints the table; soak.json in $OUT.
#   loadgen   the loadgen alone for $MINUTES (60) at $RATE (1000) req/s over
#             $CONNS (8) connections against epoll_lt (the same script, one
#             server): its RSS, fds and schedule lag per minute, and whether
#             its per-second series has every second.
#   interrupt what an interrupted `./run_all.sh smoke` leaves: run_all.sh of
#             $REV_SCRIPT (default this tree) with the build in $BUILD, SIGTERM
#             to the script $AFTER_S (25) s in (one 20 s case done, the next
#             under way), then the processes, worktrees, namespaces left 5 s later.
# Run: lab/soak_and_interrupt.sh soak|loadgen|interrupt   (BUILD=$ROOT/build OUT=/tmp/...)
# Soak and loadgen take their full minutes; interrupt ~1 min.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help|"") print_header; exit 0 ;; esac
set -euo pipefail
BUILD=${BUILD:-$ROOT/build}
case $1 in
  soak)
    OUT=${OUT:-/tmp/soak-$(date +%H%M%S)}
    exec /usr/bin/python3 "$ROOT/harness/soak/soak.py" --bin-dir "$BUILD" --out "$OUT" \
      --minutes "${MINUTES:-30}" --rate "${RATE:-200}" --connections "${CONNS:-4}" ;;
  loadgen)
    OUT=${OUT:-/tmp/soak-loadgen-$(date +%H%M%S)}
    exec /usr/bin/python3 "$ROOT/harness/soak/soak.py" --bin-dir "$BUILD" --out "$OUT" --servers epoll_lt \
      --minutes "${MINUTES:-60}" --rate "${RATE:-1000}" --connections "${CONNS:-8}" --warmup 10 ;;
  interrupt)
    SCRIPT=${REV_SCRIPT:-$ROOT/run_all.sh}
    work=$(mktemp -d /tmp/faults_interrupt.XXXXXX)
    mkdir -p "$work/root/harness/suites" "$work/shim"
    cp "$SCRIPT" "$work/root/run_all.sh"; chmod +x "$work/root/run_all.sh"
    # a smoke suite long enough to be interrupted in its middle
    printf '%s\n' '{"name": "smoke", "repetitions": 1, "servers": ["epoll_lt", "blocking_threads"],' \
      '"defaults": {"duration": 20, "warmup": 0.2}, "groups": [{"name": "echo", "connections": 4}]}' \
      > "$work/root/harness/suites/smoke.json"
    printf '#!/bin/sh\nexit 0\n' > "$work/shim/cmake"; chmod +x "$work/shim/cmake"  # the build is $BUILD, as it is
    mark="IOMODELS_MEASURE_MARK=$$"
    env "$mark" PATH="$work/shim:$PATH" IOMODELS_NO_INSTALL=1 IOMODELS_BUILD_DIR="$BUILD" \
      "$work/root/run_all.sh" smoke > "$work/run_all.log" 2>&1 &
    pid=$!
    sleep "${AFTER_S:-25}"  # the first 20 s case done, the second under way
    kill -TERM "$pid"
    rc=0; wait "$pid" || rc=$?
    echo "run_all.sh exit status after SIGTERM: $rc"
    for when in 0 5; do
      sleep "$when"
      echo "processes carrying the run's environment ${when} s after run_all.sh exited:"
      left=()
      for p in /proc/[0-9]*; do
        { tr '\0' '\n' < "$p/environ"; } 2>/dev/null | grep -qx "$mark" && left+=("${p#/proc/}")
      done
      ((${#left[@]})) && ps -o pid=,ppid=,args= -p "$(IFS=,; echo "${left[*]}")" | cut -c1-160 || echo " none"
      echo " (by command line naming the run's folder: $(ps -eo args= | grep -c "[r]esults/.*-smoke") processes)"
    done
    echo "run.json: $(ls "$work"/root/results/*/run.json 2>/dev/null || echo none)"
    for f in "$work"/root/results/*/run.json; do
      [[ -e $f ]] && /usr/bin/python3 "$LAB/py/run_progress_line.py" "$(dirname "$f")"
    done
    echo "git worktrees: $(git -C "$ROOT" worktree list | grep -c "$work" || true); namespaces: $(ip netns list 2>/dev/null | grep -c iomodels || true)"
    echo "log: $work/run_all.log" ;;
  *) echo "faults.sh: unknown mode '$1' (soak | loadgen | interrupt)" >&2; exit 2 ;;
esac
