#!/usr/bin/env python3
"""How fast one instance's queue of commands is delivered: COMMANDS commands emitted by as many
steps of INSTANCES instances (bench/flows/progress.flow, posted as CloudEvents batches of 1,000),
delivered to the command sink, whose count is polled until all arrived. An instance's commands
go out one at a time, each after the one before is recorded, so one instance's queue measures
the relay's round trip per command. Run by hand, one binary after the other:
    bench/instance_queue_drain.py FLOWD [COMMANDS] [INSTANCES]
FLOWD is a Release build (build-release/tools/flowd); the sink is build-release/bench/command_sink."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from flowd_harness import Flowd, write_config  # noqa: E402

SINK_PORT = 9351


def main():
    flowd = os.path.abspath(sys.argv[1])
    commands = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    instances = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    directory = tempfile.mkdtemp(prefix="queue-drain-")
    sink = subprocess.Popen([os.path.join(ROOT, "build-release", "bench", "command_sink"), str(SINK_PORT)])
    server = None
    try:
        time.sleep(0.3)
        shutil.copy(os.path.join(ROOT, "bench", "flows", "progress.flow"), directory)
        config = write_config(os.path.join(directory, "flowd.json"),
                              targets={"records": {"url": f"http://127.0.0.1:{SINK_PORT}/records"}})
        server = Flowd(flowd, [os.path.join(directory, "progress.flow")], os.path.join(directory, "flow.db"), config).start()
        delivered = lambda: int(urllib.request.urlopen(f"http://127.0.0.1:{SINK_PORT}/count").read())
        for i in range(instances):
            assert server.post_event({"id": f"o{i}", "type": "Opened", "data": {"caseId": f"c{i}"}})[0] == 202
        started = time.time()
        for first in range(0, commands, 1000):
            batch = [{"specversion": "1.0", "id": f"p{n}", "source": "/bench", "type": "Progressed",
                      "data": {"caseId": f"c{n % instances}", "step": n}} for n in range(first, min(first + 1000, commands))]
            status, body = server.request("POST", "/v1/events", json.dumps(batch),
                                          {"Content-Type": "application/cloudevents-batch+json"})
            assert status == 202, body
        posted = time.time() - started
        while delivered() < commands and time.time() - started < 600:
            time.sleep(0.02)
        seconds = time.time() - started
        print(json.dumps({"commands": commands, "instances": instances, "delivered": delivered(),
                          "posted_s": round(posted, 2), "drained_s": round(seconds, 2),
                          "commands_per_second": round(delivered() / seconds)}))
    finally:
        if server:
            server.stop()
        sink.kill()
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
