#!/usr/bin/env bash
# harness/measure/regress.sh: the closing-note figures of issue 12 (the regression gate's error rates).
#   1. Ten A/A runs of the regress suite: the same build as base and head
#      (harness ab --base-bin B --head-bin B); per run: cases flagged, seconds.
#   2. One run with a real slowdown injected into one model on a throwaway commit
#      (N extra getppid() syscalls per recv in servers/epoll_lt.cpp), built by the
#      gate itself (--head <commit>) against the current build: only epoll_lt
#      should be flagged.
# Run it on a quiet machine (nothing else compiling). Pinning: server CPU 0,
# loadgen CPU 1 (harness defaults), base/head interleaved A B / B A per round.
# Env: REPO (default $ROOT), RUNS (10), N (extra getppid per recv, 10), OUT (/tmp/measure_regress).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)  # the repository
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
REPO=${REPO:-$ROOT}
RUNS=${RUNS:-10}
N=${N:-10}
OUT=${OUT:-/tmp/measure_regress}
BUILD=$REPO/build
rm -rf "$OUT"; mkdir -p "$OUT"
echo "== build $REPO ($(git -C "$REPO" rev-parse --short HEAD))"
cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 >/dev/null
SUITE=$REPO/harness/suites/regress.json
summary() {  # ab.json -> "flagged=N gated=G: cases..."
  /usr/bin/python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
flagged = [c["name"] for c in d["cases"] if c["verdict"] in ("regression", "accepted")]
ng = [c["name"] + " (" + c["reason"][:60] + ")" for c in d["cases"] if c["verdict"] == "not gated"]
cpu = [c["metrics"]["cpu_ns_per_request"] for c in d["cases"] if c.get("metrics", {}).get("cpu_ns_per_request")]
widths = sorted((m["hi"] - m["lo"]) for m in cpu if m.get("hi") is not None and m.get("lo") is not None)
med_w = widths[len(widths) // 2] if widths else float("nan")
print(f"flagged={len(flagged)} gated={d['summary']['gated']}/{d['summary']['cases']} "
      f"median_cpu_ci_width={med_w:.3f} {'; '.join(flagged)}" + (f" | not gated: {'; '.join(ng)}" if ng else ""))
PY
}
echo "== 1. $RUNS A/A runs of the regress suite (same build both sides)"
for i in $(seq 1 "$RUNS"); do
  start=$SECONDS
  rc=0
  "$BUILD/harness" ab --suite "$SUITE" --base-bin "$BUILD" --head-bin "$BUILD" --no-trailers --progress off \
    --out "$OUT/aa$i" >"$OUT/aa$i.log" 2>&1 || rc=$?
  echo "A/A run $i: exit $rc, $((SECONDS - start)) s, $(summary "$OUT/aa$i/ab.json")"
done

echo "== 2. injected slowdown: $N extra getppid() per recv in epoll_lt, on a throwaway commit"
INJ=$OUT/inject-src
git -C "$REPO" worktree add --detach "$INJ" HEAD >/dev/null 2>&1
/usr/bin/python3 - "$INJ/servers/epoll_lt.cpp" "$N" <<'PY'
import re, sys
p, n = sys.argv[1], int(sys.argv[2])
s = open(p).read()
anchor = "ssize_t n = ::recv(c.fd(), scratch.get(), Connection::kReadChunk, 0);"
assert anchor in s, "epoll_lt.cpp changed: update the injection anchor"
s = s.replace(anchor, anchor + f"\n    for (int k = 0; k < {n}; ++k) (void)::getppid();  // injected slowdown (harness/measure/regress.sh)")
if "#include <unistd.h>" not in s:
    s = s.replace("#include <sys/epoll.h>", "#include <sys/epoll.h>\n#include <unistd.h>")
open(p, "w").write(s)
PY
git -C "$INJ" -c user.name=measure -c user.email=measure@localhost commit -qam "throwaway: $N getppid() per recv in epoll_lt (harness/measure/regress.sh)"
SHA=$(git -C "$INJ" rev-parse HEAD)
start=$SECONDS
rc=0
"$BUILD/harness" ab --suite "$SUITE" --base-bin "$BUILD" --head "$SHA" --work-dir "$OUT/work" --no-trailers \
  --progress off --out "$OUT/inject" >"$OUT/inject.log" 2>&1 || rc=$?
echo "injected run: exit $rc, $((SECONDS - start)) s (including the head build), $(summary "$OUT/inject/ab.json")"
grep -E '^epoll_lt/' "$OUT/inject.log" || true
git -C "$REPO" worktree remove --force "$INJ" >/dev/null 2>&1 || true
for d in "$OUT"/work/*/src; do git -C "$REPO" worktree remove --force "$d" >/dev/null 2>&1 || true; done
git -C "$REPO" worktree prune
echo "== logs and ab.json files under $OUT"
