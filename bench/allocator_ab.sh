#!/usr/bin/env bash
# What the memory allocator is worth to flowd at saturation, side by side: `pairs` over HTTP,
# 512 connections, closed loop, the relay delivering to the command sink, alternating a flowd on
# glibc's malloc and the same binary with another allocator preloaded. Run by hand:
#
#   bench/allocator_ab.sh [ROUNDS] [SECONDS] [ALLOCATOR_SO]
#
# Defaults: 6 rounds of 10 s, /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 (Debian's libjemalloc2,
# which flowd does not need; install it to run this). Prints one line per round with both rates,
# their ratio and both resident sizes at the end of the run. Needs the Release build of
# bench/run.sh (build-release, -DFLOW_BENCH=ON).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-6}
seconds=${2:-10}
allocator=${3:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
build=$root/build-release
[[ -r $allocator ]] || { echo "allocator_ab.sh: $allocator is not installed" >&2; exit 2; }
port=9340
sink_port=9341
work=$(mktemp -d)
sink_pid=""
flowd_pid=""
cleanup() {
  [[ -n $flowd_pid ]] && kill "$flowd_pid" 2> /dev/null || true
  [[ -n $sink_pid ]] && kill "$sink_pid" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/flows"
cp "$root/examples/campaign_publishing.flow" "$work/flows/"
"$build/bench/command_sink" "$sink_port" &
sink_pid=$!
sleep 0.2

# one_run PRELOAD: prints "EVENTS_PER_SECOND RSS_MB" for one run on a fresh database.
one_run() {
  rm -f "$work"/db*
  env ${1:+LD_PRELOAD=$1} "$build/tools/flowd" --flows "$work/flows" --db "$work/db" --listen "127.0.0.1:$port" \
    --target "publishing=http://127.0.0.1:$sink_port/publishing" --target "campaigns=http://127.0.0.1:$sink_port/campaigns" \
    2> /dev/null &
  flowd_pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null 2>&1; do sleep 0.01; done
  local line rate rss
  line=$("$build/bench/load_generator" --port "$port" --scenario pairs --connections 512 --seconds "$seconds" --warmup 1)
  rate=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["events_per_second"])' "$line")
  rss=$(awk '/VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$flowd_pid/status")
  kill "$flowd_pid"
  wait "$flowd_pid" 2> /dev/null || true
  flowd_pid=""
  echo "$rate $rss"
}

for round in $(seq "$rounds"); do
  read -r glibc glibc_rss <<< "$(one_run "")"
  read -r other other_rss <<< "$(one_run "$allocator")"
  python3 -c 'import sys; r, a, b, ar, br = sys.argv[1:]; print(f"{{\"round\":{r},\"glibc\":{a},\"preloaded\":{b},\"ratio\":{int(b) / int(a):.3f},\"rss_mb\":[{ar},{br}]}}")' \
    "$round" "$glibc" "$other" "$glibc_rss" "$other_rss"
done
