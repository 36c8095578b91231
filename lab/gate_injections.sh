#!/usr/bin/env bash
# Prints: for each injected regression, what `./run_all.sh regress` (CI's gate
# step, all four tiers) says of a throwaway commit that adds it: its exit code,
# its seconds (base and head builds included), and per tier the cases flagged.
# Each injection is a commit on a fresh clone of REPO's HEAD, so the gate
# compares it with HEAD itself; only the injected server should be flagged.
#   epoll_lt:getppid:1   one getppid() per recv     -> syscalls (deterministic,
#                                                       baseline) and fixed-load
#   poll:loop:3          7 more instructions per recv, ~1.5% -> instructions
#   select:loop:6000     ~25% more server CPU per request -> capacity (and the
#                                                       instruction tiers)
# Run on a quiet machine, after a Release build of REPO (ccache then makes the
# clones' builds cheap): lab/gate_injections.sh [OUT]   (~6 min an injection)
# Env: REPO (default this repository), INJECT (the specs above, space-separated).
# Needs: git, the toolchain run_all.sh builds with; installs nothing.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
need git
REPO=${REPO:-$ROOT}
OUT=${1:-$(mktemp -d /tmp/gate_injections.XXXXXX)}
mkdir -p "$OUT"
echo "load before: $(cat /proc/loadavg)"
for spec in ${INJECT:-epoll_lt:getppid:1 poll:loop:3 select:loop:6000}; do
  IFS=: read -r server kind n <<<"$spec"
  label=$server-$kind$n
  src=$OUT/$label
  rm -rf "$src"
  git clone -q "$REPO" "$src"
  /usr/bin/python3 "$LAB/py/inject_after_recv.py" "$src/servers/$server.cpp" "$kind" "$n"
  git -C "$src" -c user.name=lab -c user.email=lab@localhost commit -qam "throwaway: $kind x$n after recv in $server (lab/gate_injections.sh)"
  start=$SECONDS rc=0
  (cd "$src" && IOMODELS_NO_INSTALL=1 ./run_all.sh regress HEAD^) >"$OUT/$label.log" 2>&1 || rc=$?
  echo "$label: exit $rc, $((SECONDS - start)) s"
  ab=$( (ls -d "$src"/results/*-regress 2>/dev/null || true) | tail -1)/ab.json
  [[ -f $ab ]] && /usr/bin/python3 "$LAB/py/ab_tiers_flagged.py" "$ab" | sed 's/^/    /'
  grep -E "^(deterministic/|baseline/|fixed-load/)?$server[/\[]" "$OUT/$label.log" | sed 's/^/    | /' || true
done
echo "load after: $(cat /proc/loadavg)"
echo "logs and clones under $OUT"
