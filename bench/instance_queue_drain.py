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
import sys
import tempfile
import time
import urllib.request

from progress_steps import ProgressFlowd, post_steps

SINK_PORT = 9351


def main():
    flowd = os.path.abspath(sys.argv[1])
    commands = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    instances = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    directory = tempfile.mkdtemp(prefix="queue-drain-")
    try:
        with ProgressFlowd(flowd, directory, SINK_PORT) as server:
            delivered = lambda: int(urllib.request.urlopen(f"http://127.0.0.1:{SINK_PORT}/count").read())
            for i in range(instances):
                assert server.post_event({"id": f"o{i}", "type": "Opened", "data": {"caseId": f"c{i}"}})[0] == 202
            started = time.time()
            post_steps(server, commands, lambda n: f"c{n % instances}")
            posted = time.time() - started
            while delivered() < commands and time.time() - started < 600:
                time.sleep(0.02)
            seconds = time.time() - started
            print(json.dumps({"commands": commands, "instances": instances, "delivered": delivered(),
                              "posted_s": round(posted, 2), "drained_s": round(seconds, 2),
                              "commands_per_second": round(delivered() / seconds)}))
    finally:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
