#!/usr/bin/env python3
"""What a page of POST /v1/outbox/retry costs: COMMANDS commands are made dead at once (their target
answers 400), then retried ROUNDS times a page of 1,000 at a time (the target still refuses, so
each page goes dead again before the next); each page's answer time is printed beside the
median answer time of events posted one after the other to the same flowd. Then every dead
command is deleted with POST /v1/outbox/delete, a page of 1,000 at a time, each page timed. Run
by hand:
    bench/redrive_latency.py FLOWD [COMMANDS] [ROUNDS]
FLOWD is a Release build (build-release/tools/flowd)."""
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from flowd_harness import Flowd, Receiver, write_config  # noqa: E402

FLOW = """
event Start { id: string }
command First to sink { id: string }
workflow Redrive {
  key id: string
  start on Start { emit First { id: key } complete }
}
"""


def dead(server):
    text = server.request("GET", "/metrics")[1]
    return int(float(re.search(r'flow_outbox_commands\{status="dead"\} (\S+)', text).group(1)))


def main():
    flowd = os.path.abspath(sys.argv[1])
    commands = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    receiver = Receiver(lambda path, command, attempt: (400, {}))
    directory = tempfile.mkdtemp(prefix="redrive-latency-")
    server = None
    try:
        os.mkdir(os.path.join(directory, "flows"))
        with open(os.path.join(directory, "flows", "redrive.flow"), "w") as f:
            f.write(FLOW)
        config = write_config(os.path.join(directory, "config.json"),
                              targets={"sink": {"url": receiver.url("sink"), "retry": {"max_attempts": 1}}})
        server = Flowd(flowd, [os.path.join(directory, "flows")], os.path.join(directory, "flow.db"), config).start()
        for first in range(0, commands, 100):
            batch = [{"specversion": "1.0", "id": f"b{n}", "source": "bench", "type": "Start", "data": {"id": f"b{n}"}}
                     for n in range(first, min(first + 100, commands))]
            status, _ = server.request("POST", "/v1/events", batch, {"Content-Type": "application/cloudevents-batch+json"})
            assert status == 202, status
        events = []
        for n in range(300):
            sent = time.perf_counter()
            status, _ = server.post_event({"id": f"s{n}", "type": "Start", "data": {"id": f"s{n}"}})
            events.append((time.perf_counter() - sent) * 1000)
            assert status == 202, status
        total = commands + 300
        server.wait_for(lambda: dead(server) == total, timeout=120, what="every command dead")
        pages = []
        for _ in range(rounds):
            sent = time.perf_counter()
            status, body = server.request("POST", "/v1/outbox/retry?limit=1000")
            pages.append((time.perf_counter() - sent) * 1000)
            assert status == 200 and body["retried"] == min(1000, total), body
            server.wait_for(lambda: dead(server) == total, timeout=120, what="the page dead again")
        deletions, after = [], ""
        while True:
            sent = time.perf_counter()
            status, body = server.request("POST", "/v1/outbox/delete?target=sink&limit=1000" + (f"&after={after}" if after else ""))
            deletions.append((time.perf_counter() - sent) * 1000)
            assert status == 200, body
            if body["next"] is None:
                break
            after = body["next"]
        assert dead(server) == 0
        print(f'{{"commands":{total},"event_median_ms":{statistics.median(events):.2f},'
              f'"page_of_1000_ms":[{", ".join(f"{p:.1f}" for p in pages)}],"page_median_ms":{statistics.median(pages):.1f},'
              f'"delete_pages_ms":[{", ".join(f"{p:.1f}" for p in deletions)}]}}')
    finally:
        if server:
            server.stop()
        receiver.close()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
