#!/usr/bin/env bash
# Durable ingest over HTTP, measured with wrk (closed loop, keep-alive), run by hand:
#   bench/flowd_bench.sh [CONNECTIONS=32] [SECONDS=20]
# Starts a Release flowd on the campaign example with a fresh database (synchronous=FULL,
# every event acknowledged only after its commit) and a local sink for its commands, then
# posts unique CampaignActivated events (each starts an instance and emits one command).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
connections=${1:-32}
seconds=${2:-20}
command -v wrk > /dev/null || { echo "installing wrk"; apt-get install -y -qq wrk > /dev/null; }
cmake -S "$root" -B "$root/build-release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLOW_TESTS=OFF > /dev/null
cmake --build "$root/build-release" --target flowd > /dev/null
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/flows"
cp "$root/examples/campaign_publishing.flow" "$work/flows/"
python3 "$root/bench/sink.py" 9301 > /dev/null 2>&1 &
"$root/build-release/tools/flowd" --flows "$work/flows" --db "$work/bench.db" --listen 127.0.0.1:9300 \
  --target publishing=http://127.0.0.1:9301/publishing --target campaigns=http://127.0.0.1:9301/campaigns \
  2> "$work/flowd.log" &
sleep 1
wrk -t 2 -c "$connections" -d "${seconds}s" --latency -s "$root/bench/post_events.lua" http://127.0.0.1:9300/v1/events
echo "--- commit batches and outbox after the run"
curl -s http://127.0.0.1:9300/metrics | grep -E '^flow_commit_batch_size_(sum|count)|^flow_outbox_commands|^flow_events_total'
