#!/usr/bin/env bash
# Prints: per server, the server-wide buffer budget at work (1,000 peers x one
# unread 1 MiB frame, --max-buffered-bytes 64 MiB): budget, peak RSS, baseline,
# growth, peers refused; then the figures the fault tests print.
# Run: lab/buffer_budget_memory.sh [BUILD_DIR]   (default $ROOT/build, built with its tests; ~1 min)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
B=${1:-$ROOT/build}
echo "== ThousandUnreadFramesStayUnderBufferBudget (budget 64 MiB; allowed growth = budget + 32 MiB + 1000 x 64 KiB)"
"$B/tests/conformance_tests" --gtest_filter='*ThousandUnreadFramesStayUnderBufferBudget*' 2>&1 \
  | grep -E 'peak RSS|FAILED \]' 
echo "== faults"
"$B/tests/e2e_tests" --gtest_filter='LoadgenFaults.*:HarnessFaults.*' 2>&1 | grep -E 'figures|OK \]|FAILED \]'
