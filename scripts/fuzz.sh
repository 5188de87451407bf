#!/usr/bin/env bash
# Runs each fuzz target for SECONDS, seeded with the examples, the invalid cases and the seeds
# under tests/fuzz/seeds/.
# usage: scripts/fuzz.sh BUILD_DIR [SECONDS] [TARGET...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1
seconds=${2:-60}
shift $(( $# < 2 ? $# : 2 ))
targets=${*:-fuzz_compile fuzz_simulate fuzz_event_input fuzz_http_request fuzz_http_framing fuzz_json_reader}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "${FLOW_FUZZ_ARTIFACTS:-$root/fuzz-artifacts}"
status=0
for target in $targets; do
  mkdir -p "$work/$target"
  case $target in
    fuzz_compile) seeds=("$root/examples" "$root/tests/invalid") ;;
    fuzz_simulate) seeds=("$root/examples") ;;
    fuzz_event_input) seeds=("$root/tests/fuzz/seeds/event_input") ;;
    fuzz_http_request) seeds=("$root/tests/fuzz/seeds/http_request") ;;
    fuzz_http_framing) seeds=("$root/tests/fuzz/seeds/http_request" "$root/tests/fuzz/seeds/http_framing") ;;
    fuzz_json_reader) seeds=("$root/tests/fuzz/seeds/json_reader" "$root/examples") ;;
  esac
  echo "fuzzing $target for ${seconds}s"
  "$build/tests/fuzz/$target" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="${FLOW_FUZZ_ARTIFACTS:-$root/fuzz-artifacts}/" -print_final_stats=1 "$work/$target" "${seeds[@]}" > "$work/$target.log" 2>&1 || status=1
  tail -n 40 "$work/$target.log"
done
exit $status
