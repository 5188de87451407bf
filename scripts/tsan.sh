#!/usr/bin/env bash
# Builds with ThreadSanitizer and runs the unit and integration tests under it. Not part of CI
# (a second full build would not fit its time); run it by hand after changing threaded code.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFLOW_TSAN=ON -DFLOW_TESTS=ON > /dev/null
cmake --build build-tsan -j "$(nproc)" --target flow_tests flowd flowc
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
(cd build-tsan && ctest --output-on-failure -R "unit|flowd_integration|flowd_faults")
