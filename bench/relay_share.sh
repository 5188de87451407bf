#!/usr/bin/env bash
# What the relay's deliveries take from ingest on the same cores: `pairs` over HTTP, 512
# connections, closed loop, run twice per round on a fresh database each time:
#
#   delivering  the command sink answers, so the relay delivers every command as it is committed;
#   held        the sink is stopped (SIGSTOP): the relay's first requests wait unanswered, and the
#               rest of the commands stay in the outbox, so the relay costs (almost) nothing.
#
# Run by hand:   bench/relay_share.sh [ROUNDS] [SECONDS] [FLOWD]
#
# Prints one JSON line per run: the mode, events/s, and the CPU seconds of each of flowd's
# threads by name (from /proc/PID/task/*/stat) over the whole run, warm-up included. Needs the
# Release build of bench/run.sh (build-release, -DFLOW_BENCH=ON) for the load generator and the sink.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-4}
seconds=${2:-8}
build=$root/build-release
flowd=${3:-$build/tools/flowd}
port=9342
sink_port=9343
source "$root/bench/pairs_at_saturation.sh"

# one_run MODE: prints the run's JSON line.
one_run() {
  if [[ $1 == held ]]; then kill -STOP "$sink_pid"; fi
  start_flowd "$flowd"
  local line threads
  line=$(drive_pairs)
  # utime + stime (fields 14 and 15) of every thread, summed by the thread's name
  threads=$(for task in /proc/"$flowd_pid"/task/*; do
      echo "$(cat "$task/comm") $(awk '{ print $14 + $15 }' "$task/stat")"
    done | awk -v hz="$(getconf CLK_TCK)" '{ cpu[$1] += $2 } END {
      sep = ""; for (name in cpu) { printf "%s\"%s\":%.2f", sep, name, cpu[name] / hz; sep = "," } }')
  stop_flowd
  if [[ $1 == held ]]; then kill -CONT "$sink_pid"; fi
  python3 -c 'import json, sys; mode, line, threads = sys.argv[1:]; print(json.dumps({"mode": mode, "events_per_second": json.loads(line)["events_per_second"], "cpu_seconds": json.loads("{" + threads + "}")}))' \
    "$1" "$line" "$threads"
}

for round in $(seq "$rounds"); do
  one_run delivering
  one_run held
done
