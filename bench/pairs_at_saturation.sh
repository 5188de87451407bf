# Sourced by flowd_ab.sh and relay_share.sh: `pairs` over HTTP at saturation (512 connections,
# closed loop) with the relay delivering to bench/command_sink, each run on a fresh database.
# The sourcing script sets `root`, `build` (the Release build of bench/run.sh, -DFLOW_BENCH=ON),
# `seconds`, `port` and `sink_port` first. Sourcing makes the working folder with the flow, starts
# the sink (its process id in `sink_pid`) and removes both at exit.
work=$(mktemp -d)
sink_pid=""
flowd_pid=""
cleanup() {
  [[ -n $flowd_pid ]] && kill "$flowd_pid" 2> /dev/null || true
  if [[ -n $sink_pid ]]; then
    kill -CONT "$sink_pid" 2> /dev/null || true  # a sink held by relay_share.sh stops too
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

# start_flowd FLOWD [PRELOAD]: starts FLOWD on a fresh database, its targets bound to the sink,
# and waits until it serves; its process id in `flowd_pid`.
start_flowd() {
  rm -f "$work"/db*
  env ${2:+LD_PRELOAD=$2} "$1" --flows "$work/flows" --db "$work/db" --listen "127.0.0.1:$port" \
    --target "publishing=http://127.0.0.1:$sink_port/publishing" --target "campaigns=http://127.0.0.1:$sink_port/campaigns" \
    2> /dev/null &
  flowd_pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null 2>&1; do sleep 0.01; done
}

# drive_pairs: the load generator's JSON line for `seconds` of `pairs` after a second's warm-up.
drive_pairs() {
  "$build/bench/load_generator" --port "$port" --scenario pairs --connections 512 --seconds "$seconds" --warmup 1
}

stop_flowd() {
  kill "$flowd_pid"
  wait "$flowd_pid" 2> /dev/null || true
  flowd_pid=""
}
