#!/usr/bin/env bash
# Two flowd set-ups side by side at saturation: `pairs` over HTTP, 512 connections, closed loop,
# the relay delivering to the command sink, alternating A and B on a fresh database each run, so
# that each pair of runs shares the host's mood. Run by hand:
#
#   bench/flowd_ab.sh [ROUNDS] [SECONDS] A_FLOWD B_FLOWD [B_PRELOAD]
#
# A_FLOWD and B_FLOWD are flowd binaries (the same one, to compare B_PRELOAD, a library preloaded
# into B only). Defaults: 6 rounds of 10 s. Prints one JSON line per round with both rates, their
# ratio (B / A) and both resident sizes at the end of the run. Needs the Release build of
# bench/run.sh (build-release, -DFLOW_BENCH=ON) for the load generator and the sink.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-6}
seconds=${2:-10}
a_flowd=${3:?A_FLOWD}
b_flowd=${4:?B_FLOWD}
b_preload=${5:-}
build=$root/build-release
[[ -z $b_preload || -r $b_preload ]] || { echo "flowd_ab.sh: $b_preload is not installed" >&2; exit 2; }
port=9340
sink_port=9341
source "$root/bench/pairs_at_saturation.sh"

# one_run FLOWD PRELOAD: prints "EVENTS_PER_SECOND RSS_MB" for one run on a fresh database.
one_run() {
  start_flowd "$1" "$2"
  local line rate rss
  line=$(drive_pairs)
  rate=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["events_per_second"])' "$line")
  rss=$(awk '/VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$flowd_pid/status")
  stop_flowd
  echo "$rate $rss"
}

for round in $(seq "$rounds"); do
  read -r a a_rss <<< "$(one_run "$a_flowd" "")"
  read -r b b_rss <<< "$(one_run "$b_flowd" "$b_preload")"
  python3 -c 'import sys; r, a, b, ar, br = sys.argv[1:]; print(f"{{\"round\":{r},\"a\":{a},\"b\":{b},\"ratio\":{int(b) / int(a):.3f},\"rss_mb\":[{ar},{br}]}}")' \
    "$round" "$a" "$b" "$a_rss" "$b_rss"
done
