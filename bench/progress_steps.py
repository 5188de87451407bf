"""What the bench scripts built on bench/flows/progress.flow share: flowd started on it with its
`records` target at the command sink, and steps posted to it as CloudEvents batches of 1,000."""
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from flowd_harness import Flowd, write_config  # noqa: E402

BENCH = os.path.join(ROOT, "build-release", "bench")


class ProgressFlowd:
    """The command sink on `sink_port` and flowd on progress.flow in `directory`, both stopped on exit."""

    def __init__(self, flowd_binary, directory, sink_port):
        self.binary, self.directory, self.sink_port = flowd_binary, directory, sink_port
        self.sink = self.server = None

    def __enter__(self):
        self.sink = subprocess.Popen([os.path.join(BENCH, "command_sink"), str(self.sink_port)])
        time.sleep(0.3)
        shutil.copy(os.path.join(ROOT, "bench", "flows", "progress.flow"), self.directory)
        config = write_config(os.path.join(self.directory, "flowd.json"),
                              targets={"records": {"url": f"http://127.0.0.1:{self.sink_port}/records"}})
        self.server = Flowd(self.binary, [os.path.join(self.directory, "progress.flow")],
                            os.path.join(self.directory, "flow.db"), config).start()
        return self.server

    def __exit__(self, *exc):
        if self.server:
            self.server.stop()
        self.sink.kill()
        self.sink.wait()


def post_steps(server, count, case_of, prefix="p"):
    """`count` Progressed events, the n-th to the case `case_of(n)`, in batches of 1,000."""
    for first in range(0, count, 1000):
        batch = [{"specversion": "1.0", "id": f"{prefix}{n}", "source": "/bench", "type": "Progressed",
                  "data": {"caseId": case_of(n), "step": n}} for n in range(first, min(first + 1000, count))]
        status, body = server.request("POST", "/v1/events", json.dumps(batch),
                                      {"Content-Type": "application/cloudevents-batch+json"})
        assert status == 202, body
