#!/usr/bin/env bash
# Prints: the regression gate broken on purpose one way at a time (no
# alternation, never/always flag, Holm off, sides swapped, interval level), and
# for each mutant which of the gate's tests fail; a mutant no test catches is
# SURVIVED and the script exits 1.
# Run: lab/gate_mutants.sh [NAME...]   (~3 min a mutant: one rebuild of the
#      harness and the two test programs)
#      ONLY_UNIT=1 skips the end-to-end ab_tests (the no-alternation mutant needs them)
#      WORK=DIR (default /tmp/iomodels-gate-mutants): the mutants are made in a
#      git worktree of HEAD there (WORK/src, built in WORK/build), never in this
#      checkout, so commit what you want mutated.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -uo pipefail
WORK=${WORK:-${TMPDIR:-/tmp}/iomodels-gate-mutants}
exec /usr/bin/python3 "$LAB/py/gate_mutants.py" "$ROOT" "$WORK" "${ONLY_UNIT:-0}" "$@"
