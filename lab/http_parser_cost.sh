#!/usr/bin/env bash
# Prints: http req/s of epoll_lt before the strict parser (1791d29) and after
# (REV) with the per-round ratio; wrk against the new server (its replies must
# parse); the parser's own cost (Google Benchmark BM_ProtocolServerParse/2 and
# BM_ClientBuildAndVerify/2, ns per request, old vs new); and the fuzz step's
# CI cost (a clean build of fuzz/ without ccache, fuzz/run_fuzz.sh at 30 s a
# target, each target's execs/s).
# Run on a quiet machine:  lab/http_parser_cost.sh [REV] [ROUNDS]  (default main, 7; ~10 min)
# Needs wrk and clang++. Interleaved, pinned (server on CPU 0, loadgen on CPU 1),
# medians. Builds both revisions in worktrees under /tmp/measure_http.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # LAB, ROOT, need, print_header
case ${1:-} in -h|--help) print_header; exit 0 ;; esac
set -euo pipefail
need wrk
need clang++ clang
REV=${1:-main}
ROUNDS=${2:-7}
OLD=1791d29
W=/tmp/measure_http
REPO=$ROOT
mkdir -p "$W"
build() {  # $1 = rev, $2 = dir
  if [[ ! -d $2/src ]]; then git -C "$REPO" worktree add --detach "$2/src" "$1" >/dev/null 2>&1; fi
  git -C "$2/src" checkout --detach -q "$1"
  cmake -S "$2/src" -B "$2/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$2/build" --target epoll_lt loadgen iomodels_micro >/dev/null
}
build "$OLD" "$W/old"
build "$(git -C "$REPO" rev-parse "$REV")" "$W/new"
LOADGEN=$W/new/build/loadgen   # the same loadgen for both servers

start_server() {  # $1 = build dir; sets PID PORT
  local fifo=$W/listen.$$
  rm -f "$fifo"; mkfifo "$fifo"
  taskset -c 0 "$1/epoll_lt" --protocol http --port 0 --stats-file "$W/stats.json" >"$fifo" 2>/dev/null &
  PID=$!
  local line; read -r line <"$fifo"; rm -f "$fifo"
  PORT=${line##*:}
}
stop_server() { kill -TERM "$PID"; wait "$PID" || true; }

one_run() {  # $1 = build dir -> prints req/s
  start_server "$1"
  taskset -c 1 "$LOADGEN" --target "127.0.0.1:$PORT" --protocol http -c 16 -p 4 \
      --warmup 1 -d "${DUR:-5}" --output "$W/lg.json" 2>/dev/null
  stop_server
  /usr/bin/python3 "$LAB/py/loadgen_rps_and_errors.py" "$W/lg.json"
}

declare -a old_r new_r ratios
echo "round  old_req/s  new_req/s  new/old  (errors old,new)"
for ((i = 1; i <= ROUNDS; i++)); do
  # Alternate which goes first, so a drift in machine state hits both alike.
  if ((i % 2)); then read -r o oe < <(one_run "$W/old/build"); read -r n ne < <(one_run "$W/new/build")
  else read -r n ne < <(one_run "$W/new/build"); read -r o oe < <(one_run "$W/old/build"); fi
  r=$(awk -v n="$n" -v o="$o" 'BEGIN {printf "%.4f", n / o}')
  old_r+=("$o"); new_r+=("$n"); ratios+=("$r")
  printf '%5d  %9.0f  %9.0f  %7s  (%s,%s)\n' "$i" "$o" "$n" "$r" "$oe" "$ne"
done
/usr/bin/python3 "$LAB/py/http_old_new_medians.py" "${old_r[*]}" "${new_r[*]}" "${ratios[*]}"

echo "--- wrk against the new epoll_lt --protocol http (replies must parse: 0 errors, 0 non-2xx)"
start_server "$W/new/build"
taskset -c 1 wrk -t1 -c16 -d5s "http://127.0.0.1:$PORT/" | tee "$W/wrk.txt"
stop_server
if grep -qE "Socket errors|Non-2xx" "$W/wrk.txt"; then echo "wrk: ERRORS (see above)"; else echo "wrk: all replies parsed, all 2xx"; fi

echo "--- parser micro-benchmarks (ns per request; pinned to CPU 1; old/new interleaved, 3 rounds)"

for ((i = 1; i <= 3; i++)); do
  for v in old new; do
    taskset -c 1 "$W/$v/build/iomodels_micro" --benchmark_filter='BM_ProtocolServerParse/2|BM_ClientBuildAndVerify/2' \
        --benchmark_min_time=0.5 --benchmark_format=json 2>/dev/null | /usr/bin/python3 "$LAB/py/gbench_ns_per_request.py" "$v"
  done
done

echo "--- fuzz step cost (CI): clean build of fuzz/ without ccache, then 30 s per target"
SRC=$W/new/src
rm -rf "$W/build-fuzz"
start=$(date +%s)
cmake -S "$SRC/fuzz" -B "$W/build-fuzz" -G Ninja -DCMAKE_CXX_COMPILER=clang++ >/dev/null
CCACHE_DISABLE=1 cmake --build "$W/build-fuzz" -j"$(nproc)" >/dev/null
built=$(date +%s)
"$SRC/fuzz/run_fuzz.sh" "$W/build-fuzz" "${FUZZ_SECONDS:-30}"
done_at=$(date +%s)
echo "fuzz build $((built - start)) s, fuzz runs $((done_at - built)) s, total $((done_at - start)) s"
