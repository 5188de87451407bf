#!/usr/bin/env bash
# Installs what is missing, builds with AddressSanitizer and UndefinedBehaviorSanitizer, runs
# every test, then runs each fuzz target for a bounded time (FLOW_FUZZ_SECONDS, default 30).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh

jobs=${FLOW_JOBS:-$(nproc)}
build=${FLOW_BUILD_DIR:-build-test}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFLOW_SANITIZE=ON -DFLOW_TESTS=ON > /dev/null
cmake --build "$build" -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$build" && ctest --output-on-failure -j "$jobs")

if [ "${FLOW_FUZZ_SECONDS:-30}" -gt 0 ] && command -v clang++ > /dev/null; then
  fuzz=${FLOW_FUZZ_BUILD_DIR:-build-fuzz}
  cmake -S . -B "$fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
        -DFLOW_FUZZ=ON -DFLOW_TESTS=OFF > /dev/null
  cmake --build "$fuzz" -j "$jobs" --target fuzz_compile fuzz_simulate fuzz_event_input fuzz_http_request fuzz_http_framing fuzz_json_reader
  scripts/fuzz.sh "$fuzz" "${FLOW_FUZZ_SECONDS:-30}"
fi
