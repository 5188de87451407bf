#!/usr/bin/env bash
# Rewrites tests/invalid/*.expect from the current flowc. Read `git diff` afterwards: every
# change in a message must be deliberate.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
flowc=${FLOWC:-$root/build/tools/flowc}
cd "$root/tests/invalid"
for case in *.flow; do
  "$flowc" check "$case" 2> "${case%.flow}.expect" || true
done
