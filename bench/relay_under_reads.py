#!/usr/bin/env python3
"""Whether the API's reads hold up the relay: a database whose outbox holds OUTBOX delivered
commands (made with build-release/bench/store_bench --preload), then one instance's QUEUE commands
(bench/flows/progress.flow) drained to the command sink, once alone and once while a client
scrapes /metrics without pause (each scrape counts the outbox's rows). Prints both drain times.
Run by hand:
    bench/relay_under_reads.py FLOWD [OUTBOX] [QUEUE]
FLOWD is a Release build (build-release/tools/flowd)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from progress_steps import ROOT, post_steps
from flowd_harness import Flowd, write_config  # noqa: E402  (on the path progress_steps set)

SINK_PORT = 9352
BENCH = os.path.join(ROOT, "build-release", "bench")


def drain(flowd_binary, directory, database, queue, scrape):
    """The seconds one instance's queue takes to reach the sink, and the scrapes made meanwhile."""
    shutil.copy(database, os.path.join(directory, "flow.db"))
    sink = subprocess.Popen([os.path.join(BENCH, "command_sink"), str(SINK_PORT)])
    server = None
    try:
        time.sleep(0.3)
        url = f"http://127.0.0.1:{SINK_PORT}/commands"
        config = write_config(os.path.join(directory, "flowd.json"),
                              targets={name: {"url": url} for name in ("records", "publishing", "campaigns")})
        server = Flowd(flowd_binary, [os.path.join(directory, "flows")], os.path.join(directory, "flow.db"), config).start(timeout=120)
        delivered = lambda: int(urllib.request.urlopen(f"http://127.0.0.1:{SINK_PORT}/count").read())
        assert server.post_event({"id": "open", "type": "Opened", "data": {"caseId": "queue"}})[0] == 202
        stop, scrapes = threading.Event(), [0]

        def scraper():
            while not stop.is_set():
                server.request("GET", "/metrics", timeout=600)
                scrapes[0] += 1
        thread = threading.Thread(target=scraper)
        if scrape:
            thread.start()
            time.sleep(0.3)
        started = time.time()
        post_steps(server, queue, lambda n: "queue", prefix="step-")
        while delivered() < queue and time.time() - started < 600:
            time.sleep(0.01)
        seconds = time.time() - started
        stop.set()
        if scrape:
            thread.join()
        return round(seconds, 2), scrapes[0]
    finally:
        if server:
            server.stop()
        sink.kill()


def main():
    flowd_binary = os.path.abspath(sys.argv[1])
    outbox = int(sys.argv[2]) if len(sys.argv) > 2 else 500000
    queue = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    directory = tempfile.mkdtemp(prefix="relay-under-reads-")
    try:
        os.mkdir(os.path.join(directory, "flows"))
        shutil.copy(os.path.join(ROOT, "bench", "flows", "progress.flow"), os.path.join(directory, "flows"))
        campaign = os.path.join(ROOT, "examples", "campaign_publishing.flow")
        shutil.copy(campaign, os.path.join(directory, "flows"))
        database = os.path.join(directory, "made.db")
        subprocess.run([os.path.join(BENCH, "store_bench"), "--flow", campaign, "--scenario", "starts", "--events", "1",
                        "--preload", str(outbox), "--db", database], check=True, stdout=subprocess.DEVNULL)
        alone = drain(flowd_binary, directory, database, queue, False)
        scraped = drain(flowd_binary, directory, database, queue, True)
        print(json.dumps({"outbox": outbox, "queue": queue, "drain_s_alone": alone[0], "drain_s_scraped": scraped[0],
                          "scrapes": scraped[1]}))
    finally:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
