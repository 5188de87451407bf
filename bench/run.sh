#!/usr/bin/env bash
# Every benchmark of docs/performance.md, side by side in one run, by hand (never in CI):
#
#   bench/run.sh [OUT_DIR] [SECTIONS...]
#
# SECTIONS (default: all): limits writer peers http sustained sweep relay timers million.
# Builds Release with the bench programs, installs the peers with npm when missing, and writes
# one JSON line per measurement to OUT_DIR/results.jsonl (default build-release/bench-results),
# plus OUT_DIR/load.svg (throughput and p99 latency against offered load) from the sweep.
# flowd runs with synchronous=FULL and acknowledges every event only after its commit.
# FLOWD=PATH runs another flowd binary (an A/B comparison of two builds, section by section).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build-release/bench-results}
shift || true
sections=${*:-limits writer peers http sustained sweep relay timers million}
build=$root/build-release
mkdir -p "$out"
results=$out/results.jsonl
: > "$results"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLOW_TESTS=OFF -DFLOW_BENCH=ON > /dev/null
cmake --build "$build" --target flowd store_bench sqlite_limit load_generator command_sink > /dev/null
if [[ " $sections " == *" peers "* && ! -d "$root/bench/peers/node_modules" ]]; then
  (cd "$root/bench/peers" && npm install --no-audit --no-fund --loglevel=error)
fi

work=$(mktemp -d)
flowd_pid=""
sink_pid=""
cleanup() {
  [[ -n "$flowd_pid" ]] && kill "$flowd_pid" 2> /dev/null || true
  [[ -n "$sink_pid" ]] && kill "$sink_pid" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=9300
sink_port=9301
campaign=$root/examples/campaign_publishing.flow
deadline=$root/bench/flows/deadline.flow

record() { echo "$1" | tee -a "$results"; }
now_ms() { date +%s%3N; }
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name { print $2 }'; }
sink_count() { curl -s "http://127.0.0.1:$sink_port/count"; }
rss_mb() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$flowd_pid/status"; }
# cpu_s STAT_FILE: the CPU seconds (user + system) a process or thread has used so far.
ticks=$(getconf CLK_TCK)
cpu_s() { awk -v t="$ticks" '{ printf "%.2f", ($14 + $15) / t }' "$1" 2> /dev/null || echo 0; }
# The CPU seconds of flowd's writer thread, found by its name.
writer_cpu_s() {
  local task
  for task in /proc/"$flowd_pid"/task/*; do
    [[ $(cat "$task/comm" 2> /dev/null) == flowd-writer ]] && { cpu_s "$task/stat"; return; }
  done
  echo 0
}

start_sink() {
  "$build/bench/command_sink" "$sink_port" &
  sink_pid=$!
  sleep 0.2
}

# start_flowd FLOW_FILE DB: serves the flow on $port with the sink as every target; sets
# startup_ms to the time from launch until /healthz answers.
start_flowd() {
  mkdir -p "$work/flows"
  rm -f "$work/flows/"*.flow
  cp "$1" "$work/flows/"
  local launched
  launched=$(now_ms)
  "${FLOWD:-$build/tools/flowd}" --flows "$work/flows" --db "$2" --listen "127.0.0.1:$port" \
    --target "publishing=http://127.0.0.1:$sink_port/publishing" --target "campaigns=http://127.0.0.1:$sink_port/campaigns" \
    --target "escalations=http://127.0.0.1:$sink_port/escalations" 2>> "$work/flowd.log" &
  flowd_pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null 2>&1; do
    if ! kill -0 "$flowd_pid" 2> /dev/null; then
      echo "flowd exited before it answered; its log:" >&2
      tail -n 20 "$work/flowd.log" >&2
      exit 1
    fi
    sleep 0.01
  done
  startup_ms=$(( $(now_ms) - launched ))
}

stop_flowd() {
  kill -TERM "$flowd_pid" 2> /dev/null || true
  wait "$flowd_pid" 2> /dev/null || true
  flowd_pid=""
}

fresh_db() { rm -f "$work/$1"*; echo "$work/$1"; }

# load SCENARIO CONNECTIONS SECONDS [RATE]: one load generator run against flowd, measured for
# SECONDS after a warm-up of WARMUP seconds (1 unless set in the environment); at a RATE, the
# requests due within one TICK_US (1000 unless set; 0: each at its own time) leave together.
# BATCH=N in the environment sends N events per request (a CloudEvents batch).
load() {
  "$build/bench/load_generator" --port "$port" --scenario "$1" --connections "$2" --seconds "$3" --rate "${4:-0}" \
    --batch "${BATCH:-1}" --warmup "${WARMUP:-1}" --tick-us "${TICK_US:-1000}"
}

# wait_until_zero METRIC: polls /metrics every 200 ms until METRIC is 0; prints the milliseconds
# (no more often: each poll counts the rows of the tables, which the run would pay for).
wait_until_zero() {
  local began
  began=$(now_ms)
  while [[ "$(metric "$1")" != "0" ]]; do sleep 0.2; done
  echo $(( $(now_ms) - began ))
}

for section in $sections; do
  case $section in
  limits)
    # The disk's yardsticks from the performance goals: three bare SQLite writes per event
    # (inbox, instance update, outbox row), one transaction per event, 100 per transaction, and
    # 100 per transaction with synchronous=OFF (a ceiling without durability, not a target).
    for args in "--batch 1 --events 10000" "--batch 100" "--batch 100 --synchronous OFF"; do
      line=$("$build/bench/sqlite_limit" $args --db "$(fresh_db limit.db)")
      record "{\"bench\":\"limits\",\"result\":\"$line\"}"
    done
    ;;
  writer)
    # The writer alone: the processor and SQLite, no HTTP (the ceiling of the HTTP figures).
    for args in "--scenario starts --batch 100" "--scenario pairs --batch 100" "--scenario starts --batch 1"; do
      line=$("$build/bench/store_bench" --flow "$campaign" --events 30000 $args --db "$(fresh_db writer.db)")
      record "{\"bench\":\"writer\",\"result\":\"$line\"}"
    done
    ;;
  peers)
    # The same start-plus-message workload on xstate and bpmn-engine, persisted in SQLite.
    record "$(node "$root/bench/peers/xstate_peer.mjs" 30000 "$(fresh_db xstate.db)" 1)"
    record "$(node "$root/bench/peers/xstate_peer.mjs" 30000 "$(fresh_db xstate.db)" 100)"
    record "$(node "$root/bench/peers/bpmn_peer.mjs" 2000 "$(fresh_db bpmn.db)")"
    ;;
  http)
    # Closed loop over HTTP, with the relay delivering every command to the sink meanwhile: 64
    # connections, then 512 (more requests in flight make larger commits: the maximum).
    start_sink
    for spec in "starts 64" "pairs 64" "pairs 512"; do
      read -r scenario connections <<< "$spec"
      start_flowd "$campaign" "$(fresh_db http.db)"
      before=$(sink_count)
      # The CPU each process spends on the run: the two cores' budget, shared (docs: run 11).
      flowd_cpu=$(cpu_s "/proc/$flowd_pid/stat"); writer_cpu=$(writer_cpu_s); sink_cpu=$(cpu_s "/proc/$sink_pid/stat")
      TIMEFORMAT='%U %S'
      { time line=$(load "$scenario" "$connections" 20); } 2> "$out/load_time.txt"
      read -r load_user load_sys < "$out/load_time.txt"
      cpu=$(awk -v f0="$flowd_cpu" -v f1="$(cpu_s "/proc/$flowd_pid/stat")" -v w0="$writer_cpu" -v w1="$(writer_cpu_s)" \
                -v s0="$sink_cpu" -v s1="$(cpu_s "/proc/$sink_pid/stat")" -v lu="$load_user" -v ls="$load_sys" \
                'BEGIN { printf "{\"flowd\":%.2f,\"writer\":%.2f,\"load_generator\":%.2f,\"sink\":%.2f}", f1 - f0, w1 - w0, lu + ls, s1 - s0 }')
      delivered=$(( $(sink_count) - before ))
      batches=$(metric flow_commit_batch_size_count)
      events=$(metric flow_commit_batch_size_sum)
      record "{\"bench\":\"http\",\"load\":$line,\"cpu_seconds\":$cpu,\"commands_delivered_during_run\":$delivered,\"commit_batches\":$batches,\"batched_jobs\":$events,\"rss_mb\":$(rss_mb)}"
      stop_flowd
    done
    kill "$sink_pid"; sink_pid=""
    ;;
  sustained)
    # Open loop `pairs` at rising offered rates: the highest one flowd sustains, answering at
    # 99 % of the offered rate or more with the relay less than a second of commands behind at
    # the end (the closed loop's maximum may leave the outbox growing). Each run is 10 s after
    # the warm-up. SUSTAINED_RATES="…" in the environment offers other rates (events/s).
    start_sink
    for rate in ${SUSTAINED_RATES:-10000 12000 14000 16000 18000 20000}; do
      start_flowd "$campaign" "$(fresh_db sustained.db)"
      line=$(load pairs 512 10 "$rate")
      pending=$(metric 'flow_outbox_commands{status="pending"}')
      # The generator waits for every answer: a rate flowd cannot keep up with shows as a run
      # that took longer, so the rate answered is what counts, not the count.
      answered_rate=$(echo "$line" | python3 -c 'import json, sys; print(round(json.load(sys.stdin)["events_per_second"]))')
      sustained=$(( answered_rate * 100 >= rate * 99 && pending <= rate ? 1 : 0 ))
      record "{\"bench\":\"sustained\",\"load\":$line,\"pending_at_end\":$pending,\"sustained\":$([[ $sustained == 1 ]] && echo true || echo false)}"
      stop_flowd
    done
    kill "$sink_pid"; sink_pid=""
    ;;
  sweep)
    # Open loop at fixed offered rates: the latency a client sees at each load.
    start_sink
    : > "$out/sweep.jsonl"
    for rate in 500 1000 2000 3000 4000 5000 6000 8000 10000; do
      start_flowd "$campaign" "$(fresh_db sweep.db)"
      line=$(load starts 512 10 "$rate")
      echo "$line" >> "$out/sweep.jsonl"
      record "{\"bench\":\"sweep\",\"load\":$line}"
      stop_flowd
    done
    kill "$sink_pid"; sink_pid=""
    python3 "$root/bench/plot_sweep.py" "$out/sweep.jsonl" "$out/load.svg"
    ;;
  relay)
    # 50,000 commands already in the outbox; flowd starts with the sink up and drains them.
    db=$(fresh_db relay.db)
    "$build/bench/store_bench" --flow "$campaign" --events 50000 --db "$db" > /dev/null
    start_sink
    start_flowd "$campaign" "$db"
    drain_ms=$(wait_until_zero 'flow_outbox_commands{status="pending"}')
    record "{\"bench\":\"relay\",\"commands\":50000,\"drain_ms\":$drain_ms,\"commands_per_second\":$(( 50000 * 1000 / (drain_ms > 0 ? drain_ms : 1) )),\"received_by_sink\":$(sink_count)}"
    stop_flowd
    kill "$sink_pid"; sink_pid=""
    ;;
  timers)
    # 100,000 instances whose deadlines fall due at the same instant; flowd starts after it.
    db=$(fresh_db timers.db)
    # Due 15 s after store_bench began (it fails if it took longer): flowd starts once they are.
    line=$("$build/bench/store_bench" --flow "$deadline" --scenario deadlines --events 100000 --due-in-ms 15000 --db "$db")
    due_at_ms=$(sed -n 's/.*due_at_ms=\([0-9]*\).*/\1/p' <<< "$line")
    while (( $(now_ms) <= due_at_ms )); do sleep 0.1; done
    start_sink
    start_flowd "$deadline" "$db"
    fire_ms=$(wait_until_zero flow_timers_pending)
    record "{\"bench\":\"timers\",\"timers\":100000,\"startup_ms\":$startup_ms,\"all_fired_ms\":$fire_ms,\"fired\":$(metric flow_timers_fired_total),\"rss_mb\":$(rss_mb)}"
    stop_flowd
    kill "$sink_pid"; sink_pid=""
    ;;
  million)
    # 1,000,000 waiting instances in the database: start-up, memory, and ingest beside an empty one.
    db=$(fresh_db million.db)
    "$build/bench/store_bench" --flow "$campaign" --preload 1000000 --events 0 --db "$db" > /dev/null
    start_sink
    for which in empty million; do
      [[ $which == empty ]] && target_db=$(fresh_db empty.db) || target_db=$db
      start_flowd "$campaign" "$target_db"
      rss_start=$(rss_mb)
      line=$(load pairs 64 20)
      record "{\"bench\":\"million\",\"database\":\"$which\",\"startup_ms\":$startup_ms,\"rss_mb_at_start\":$rss_start,\"rss_mb_after_load\":$(rss_mb),\"load\":$line}"
      stop_flowd
    done
    kill "$sink_pid"; sink_pid=""
    ;;
  *) echo "unknown section $section" >&2; exit 2 ;;
  esac
done
echo "results in $results"
