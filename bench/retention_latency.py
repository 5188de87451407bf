#!/usr/bin/env python3
"""What retention costs the events answered meanwhile: a database of N instances completed years
ago (each with four history entries, two delivered commands and two accepted event ids) is
served by flowd with each retention setting in turn, while one client posts events one after the other
for a few seconds; the acknowledgement latencies are reported per setting. Run by hand:
    bench/retention_latency.py FLOWD [INSTANCES] [SECONDS] [ROUNDS]
FLOWD is a Release build (build-release/tools/flowd)."""
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from flowd_harness import Flowd, Receiver, write_config  # noqa: E402

FLOW = """
event Start { id: string }
event Poke { id: string }
command First to sink { id: string }
workflow Test {
  key id: string
  start on Start { emit First { id: key } goto Waiting }
  state Waiting { on Poke { complete } }
}
"""

SETTINGS = [("no retention", {"retention_hours": 0}),
            ("old deliveries only", {"retention_hours": 168}),
            ("ended instances", {"retention_hours": 0, "instance_retention_hours": 1}),
            ("old event ids", {"retention_hours": 0, "inbox_retention_hours": 1})]


def database(directory, flowd, receiver, instances):
    """Lets flowd make the schema and deploy, then fills it with old completed instances."""
    start(directory, flowd, receiver, {"instance_retention_hours": 1, "inbox_retention_hours": 1}).stop()
    db = sqlite3.connect(os.path.join(directory, "flow.db"))
    workflow, version = db.execute("SELECT name, version FROM workflows").fetchone()
    n = f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {instances}) "
    id_ = "printf('0190%028d', i)"
    old = "'2020-01-01T00:00:00.000Z'"
    db.executescript(
        "BEGIN;" + n + "INSERT INTO instances (row, id, workflow, version, key, state, status, vars, compensations, created_at, "
        f"updated_at) SELECT i, {id_}, '{workflow}', {version}, printf('\"c-%06d\"', i), NULL, 'completed', '{{}}', '[]', {old}, {old} FROM n;"
        + n + f"INSERT INTO history (instance, at, kind, detail) SELECT {id_}, {old}, 'transition', '{{}}' FROM n, "
        "(SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4);"
        + n + "INSERT INTO outbox (id, instance, workflow, key, type, target, payload, status, next_attempt_ms, created_at, "
        f"delivered_at) SELECT {id_} || '-' || c, {id_}, '{workflow}', 'k', 'First', 'sink', '{{}}', 'delivered', 0, {old}, {old} "
        "FROM n, (SELECT 1 AS c UNION ALL SELECT 2);"
        + n + "INSERT INTO inbox (event_id, type, response, received_at) SELECT printf('event-%08d-%d', i, c), 'Start', "
        f"'{{\"duplicate\":false,\"deliveries\":[]}}', {old} FROM n, (SELECT 1 AS c UNION ALL SELECT 2); COMMIT;")
    db.close()


def start(directory, flowd, receiver, config):
    config = dict(config, targets={"sink": {"url": receiver.url("sink")}})
    path = write_config(os.path.join(directory, "config.json"), **config)
    return Flowd(flowd, [os.path.join(directory, "flows")], os.path.join(directory, "flow.db"), path).start()


def main():
    flowd = os.path.abspath(sys.argv[1])
    instances = int(sys.argv[2]) if len(sys.argv) > 2 else 30000
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 3
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    receiver = Receiver(None)
    try:
        for round_ in range(1, rounds + 1):
            for name, config in SETTINGS:
                directory = tempfile.mkdtemp(prefix="retention-latency-")
                try:
                    os.mkdir(os.path.join(directory, "flows"))
                    with open(os.path.join(directory, "flows", "test.flow"), "w") as f:
                        f.write(FLOW)
                    database(directory, flowd, receiver, instances)
                    server = start(directory, flowd, receiver, config)
                    latencies, began, i = [], time.time(), 0
                    while time.time() - began < seconds:
                        i += 1
                        sent = time.time()
                        status, _ = server.post_event({"id": f"e{i}", "type": "Start", "data": {"id": f"k{i}"}})
                        latencies.append((time.time() - sent) * 1000)
                        assert status == 202, status
                    server.stop()
                    latencies.sort()
                    print(f'{{"round":{round_},"setting":"{name}","events":{len(latencies)},'
                          f'"median_ms":{statistics.median(latencies):.2f},"p99_ms":{latencies[int(len(latencies) * 0.99)]:.2f},'
                          f'"max_ms":{latencies[-1]:.2f}}}', flush=True)
                finally:
                    shutil.rmtree(directory, ignore_errors=True)
    finally:
        receiver.close()


if __name__ == "__main__":
    main()
