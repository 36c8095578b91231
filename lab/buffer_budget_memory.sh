#!/usr/bin/env bash
# Issue 13 item 7/10 figures (robust helper): the server-wide buffer budget and the fault tests.
# Prints, per server: budget, peak RSS, baseline, growth, peers refused (1,000 peers x one
# unread 1 MiB frame, --max-buffered-bytes 64 MiB); then the fault tests' figures.
# Usage: harness/measure/robust_memory.sh [BUILD_DIR]   (default $ROOT/build; build it first)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)  # the repository
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
B=${1:-$ROOT/build}
echo "== ThousandUnreadFramesStayUnderBufferBudget (budget 64 MiB; allowed growth = budget + 32 MiB + 1000 x 64 KiB)"
"$B/tests/conformance_tests" --gtest_filter='*ThousandUnreadFramesStayUnderBufferBudget*' 2>&1 \
  | grep -E 'peak RSS|FAILED \]' 
echo "== faults"
"$B/tests/e2e_tests" --gtest_filter='LoadgenFaults.*:HarnessFaults.*' 2>&1 | grep -E 'figures|OK \]|FAILED \]'
