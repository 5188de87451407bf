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
work=$(mktemp -d)
sink_pid=""
flowd_pid=""
cleanup() {
  [[ -n $flowd_pid ]] && kill "$flowd_pid" 2> /dev/null || true
  if [[ -n $sink_pid ]]; then
    kill -CONT "$sink_pid" 2> /dev/null || true
    kill "$sink_pid" 2> /dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/flows"
cp "$root/examples/campaign_publishing.flow" "$work/flows/"
"$build/bench/command_sink" "$sink_port" &
sink_pid=$!
sleep 0.2

# one_run MODE: prints the run's JSON line.
one_run() {
  rm -f "$work"/db*
  if [[ $1 == held ]]; then kill -STOP "$sink_pid"; fi
  "$flowd" --flows "$work/flows" --db "$work/db" --listen "127.0.0.1:$port" \
    --target "publishing=http://127.0.0.1:$sink_port/publishing" --target "campaigns=http://127.0.0.1:$sink_port/campaigns" \
    2> /dev/null &
  flowd_pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null 2>&1; do sleep 0.01; done
  local line threads
  line=$("$build/bench/load_generator" --port "$port" --scenario pairs --connections 512 --seconds "$seconds" --warmup 1)
  # utime + stime (fields 14 and 15) of every thread, summed by the thread's name
  threads=$(for task in /proc/"$flowd_pid"/task/*; do
      echo "$(cat "$task/comm") $(awk '{ print $14 + $15 }' "$task/stat")"
    done | awk -v hz="$(getconf CLK_TCK)" '{ cpu[$1] += $2 } END {
      sep = ""; for (name in cpu) { printf "%s\"%s\":%.2f", sep, name, cpu[name] / hz; sep = "," } }')
  kill "$flowd_pid"
  wait "$flowd_pid" 2> /dev/null || true
  flowd_pid=""
  if [[ $1 == held ]]; then kill -CONT "$sink_pid"; fi
  python3 -c 'import json, sys; mode, line, threads = sys.argv[1:]; print(json.dumps({"mode": mode, "events_per_second": json.loads(line)["events_per_second"], "cpu_seconds": json.loads("{" + threads + "}")}))' \
    "$1" "$line" "$threads"
}

for round in $(seq "$rounds"); do
  one_run delivering
  one_run held
done
