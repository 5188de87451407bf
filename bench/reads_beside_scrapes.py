#!/usr/bin/env python3
"""How long the API's small reads wait while /metrics is scraped without pause, over a database
of INSTANCES waiting campaign instances (each scrape counts the tables' rows). For each binary in
turn, ROUNDS rounds, alternating: the scrape's own time (median of 5), then SMALL reads of
`GET /v1/instances?limit=1` and `GET /v1/instances/{id}` alone, then the same while another client
scrapes /metrics without pause (median, 99th percentile and longest). Run by hand:
    bench/reads_beside_scrapes.py INSTANCES ROUNDS SMALL FLOWD_A FLOWD_B ...
The database is made once with build-release/bench/store_bench --preload and copied for each run."""
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from flowd_harness import Flowd  # noqa: E402

CAMPAIGN = os.path.join(ROOT, "examples", "campaign_publishing.flow")


def get(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    seconds = time.perf_counter() - started
    connection.close()
    assert response.status == 200, body
    return seconds, body


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def small_reads(port, instance, count):
    seconds = []
    for n in range(count):
        path = "/v1/instances?limit=1" if n % 2 == 0 else f"/v1/instances/{instance}"
        seconds.append(get(port, path)[0])
    return seconds


def summary(seconds):
    ms = [s * 1000 for s in seconds]
    return f"median {statistics.median(ms):.2f} ms, p99 {percentile(ms, 99):.2f} ms, longest {max(ms):.2f} ms"


def measure(binary, database, directory, small):
    db = os.path.join(directory, "flow.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    shutil.copy(database, db)
    server = Flowd(binary, [CAMPAIGN], db, extra=["--target", "publishing=http://127.0.0.1:9/publishing",
                                                    "--target", "campaigns=http://127.0.0.1:9/campaigns"]).start(timeout=120)
    try:
        port = server.port
        instance = __import__("json").loads(get(port, "/v1/instances?limit=1")[1])["instances"][0]["id"]
        get(port, "/metrics")  # the first scrape reads the indexes into the page cache
        scrape = statistics.median(get(port, "/metrics")[0] for _ in range(5))
        alone = small_reads(port, instance, small)
        scraping = True
        scrapes = [0]

        def scraper():
            while scraping:
                get(port, "/metrics")
                scrapes[0] += 1

        threads = [threading.Thread(target=scraper) for _ in range(int(os.environ.get("SCRAPERS", "1")))]
        for thread in threads:
            thread.start()
        time.sleep(0.2)
        beside = small_reads(port, instance, small)
        scraping = False
        for thread in threads:
            thread.join()
        return scrape, alone, beside, scrapes[0]
    finally:
        server.stop()


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    instances, rounds, small = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    binaries = sys.argv[4:]
    with tempfile.TemporaryDirectory() as directory:
        database = os.path.join(directory, "preloaded.db")
        subprocess.run([os.path.join(ROOT, "build-release", "bench", "store_bench"), "--flow", CAMPAIGN,
                        "--preload", str(instances), "--events", "0", "--db", database], check=True, stdout=subprocess.DEVNULL)
        for round_number in range(1, rounds + 1):
            for binary in binaries:
                scrape, alone, beside, scrapes = measure(binary, database, directory, small)
                print(f"round {round_number} {binary}: one scrape {scrape * 1000:.1f} ms; "
                      f"small reads alone: {summary(alone)}; beside {scrapes} scrapes: {summary(beside)}", flush=True)


if __name__ == "__main__":
    main()
