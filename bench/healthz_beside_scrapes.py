#!/usr/bin/env python3
"""How long /healthz waits while many clients scrape /metrics without pause (run 45 of
docs/performance.md). For one flowd binary and a database made beforehand (for instance
`store_bench --scenario starts --events 200000 --db DB`, its commands then delivered): /metrics
alone (median of 15), /healthz alone (median of 100), then /healthz every 20 ms for 8 s on a
kept-alive connection while SCRAPERS clients (default 16) scrape /metrics without pause on
kept-alive connections of their own. Prints one JSON line. Run by hand:
    bench/healthz_beside_scrapes.py FLOWD DB [SCRAPERS]
The database is copied first; flowd serves examples/campaign_publishing.flow."""
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from flowd_harness import Flowd  # noqa: E402

CAMPAIGN = os.path.join(ROOT, "examples", "campaign_publishing.flow")


def timed_get(connection, path):
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
    return time.perf_counter() - started


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    binary, database = sys.argv[1], sys.argv[2]
    scrapers = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    with tempfile.TemporaryDirectory() as directory:
        db = os.path.join(directory, "flow.db")
        shutil.copy(database, db)
        server = Flowd(binary, [CAMPAIGN], db, extra=["--target", "publishing=http://127.0.0.1:9/publishing",
                                                        "--target", "campaigns=http://127.0.0.1:9/campaigns"]).start(timeout=120)
        try:
            port = server.port
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            metrics_alone = statistics.median(timed_get(probe, "/metrics") for _ in range(15))
            health_alone = statistics.median(timed_get(probe, "/healthz") for _ in range(100))
            scraping = True
            scrapes = [0]

            def scraper():
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                while scraping:
                    timed_get(connection, "/metrics")
                    scrapes[0] += 1

            threads = [threading.Thread(target=scraper) for _ in range(scrapers)]
            for thread in threads:
                thread.start()
            time.sleep(1)
            started, scraped_before, waits = time.time(), scrapes[0], []
            while time.time() - started < 8:
                waits.append(timed_get(probe, "/healthz"))
                time.sleep(0.02)
            elapsed, scraped = time.time() - started, scrapes[0] - scraped_before
            scraping = False
            for thread in threads:
                thread.join()
        finally:
            server.stop()
    waits.sort()
    print(json.dumps({"flowd": binary, "scrapers": scrapers, "metrics_alone_ms": round(metrics_alone * 1e3, 2),
                      "healthz_alone_ms": round(health_alone * 1e3, 3),
                      "healthz_beside_scrapers_median_ms": round(statistics.median(waits) * 1e3, 2),
                      "healthz_p90_ms": round(waits[int(len(waits) * 0.9)] * 1e3, 2), "healthz_samples": len(waits),
                      "scrapes_per_s": round(scraped / elapsed, 1)}))


if __name__ == "__main__":
    main()
