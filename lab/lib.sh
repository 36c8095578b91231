# shellcheck shell=bash
# Sourced by every lab script (not run on its own): where things are, and the
# check for a tool the script needs. The lab installs nothing: a missing tool
# stops the script with the Debian package that provides it.
LAB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)  # this folder
ROOT=$(cd "$LAB/.." && pwd)                          # the repository
# lab/py programs import the plots' package (iomodels_plots: the run loader, the report's rules).
export PYTHONPATH="$ROOT/plots${PYTHONPATH:+:$PYTHONPATH}"

# need COMMAND [PACKAGE]: exit 3 naming PACKAGE (default COMMAND) unless COMMAND is on PATH.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "$(basename "$0"): needs '$1': install the Debian package ${2:-$1} (apt-get install ${2:-$1}), then rerun" >&2
  exit 3
}

# print_header: the script's opening comment block (what it prints, how to run it).
print_header() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; }

# inject_bin BIN SHIM DIR [SERVER]: DIR becomes a bin folder of links to BIN's
# files whose SERVER (default epoll_lt) execs the real one under LD_PRELOAD=SHIM
# (same pid: the harness's counters and CPU figures follow it). Prints DIR.
inject_bin() {
  local bin=$1 shim=$2 dir=$3 server=${4:-epoll_lt} f
  rm -rf "$dir" && mkdir -p "$dir"
  for f in "$bin"/*; do [[ -f $f ]] && ln -s "$f" "$dir/$(basename "$f")"; done
  rm -f "$dir/$server"
  printf '#!/bin/sh\nexec env LD_PRELOAD=%s %s "$@"\n' "$shim" "$bin/$server" > "$dir/$server"
  chmod +x "$dir/$server"
  echo "$dir"
}
