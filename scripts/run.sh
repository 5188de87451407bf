#!/usr/bin/env bash
# Installs what is missing, builds, and starts flowd on examples/ with an embedded SQLite
# database (flow.db) and the demo services bound as its command targets. Ctrl-C stops both.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLOW_TESTS=OFF > /dev/null
cmake --build build-release -j "$(nproc)" --target flowc flowd
build-release/tools/flowc check examples/*.flow
port=${FLOW_PORT:-8080}
python3 examples/services/demo_services.py --port 9001 --flowd "http://127.0.0.1:$port" &
demo=$!
trap 'kill $demo 2>/dev/null || true' EXIT
build-release/tools/flowd --flows examples --db "${FLOW_DB:-flow.db}" --listen "127.0.0.1:$port" --config examples/flowd.json
