#!/usr/bin/env bash
# What the memory allocator is worth to flowd at saturation, side by side: bench/flowd_ab.sh with
# the same binary as A (glibc's malloc) and B (another allocator preloaded). Run by hand:
#
#   bench/allocator_ab.sh [ROUNDS] [SECONDS] [ALLOCATOR_SO]
#
# Defaults: 6 rounds of 10 s, /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 (Debian's libjemalloc2,
# which flowd does not need; install it to run this). Each line's `a` is glibc, `b` the preloaded
# allocator. Needs the Release build of bench/run.sh (build-release, -DFLOW_BENCH=ON).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
flowd=$root/build-release/tools/flowd
exec "$root/bench/flowd_ab.sh" "${1:-6}" "${2:-10}" "$flowd" "$flowd" "${3:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}"
