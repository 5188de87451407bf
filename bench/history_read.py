#!/usr/bin/env python3
"""How long an instance's history takes to read: one instance of bench/flows/progress.flow is
given STEPS steps (posted as CloudEvents batches of 1,000; each step writes a `delivery` and a
`command` entry), its commands go to the command sink, then the instance is read whole with
`GET /v1/instances/{id}` and, when the binary has it, page by page with
`GET /v1/instances/{id}/history` (PAGE entries a page). Each read is timed ROUNDS times and the
median printed; then `GET /v1/instances?limit=1`, ten times ROUNDS, while another client reads
the whole history without pause (the median and the longest). Run by hand, one binary after the other:
    bench/history_read.py FLOWD [STEPS] [PAGE] [ROUNDS]
FLOWD is a Release build (build-release/tools/flowd); the sink is build-release/bench/command_sink."""
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

from progress_steps import ProgressFlowd, post_steps

SINK_PORT = 9353


def get(port, path):
    """The status and the raw body: the client's JSON parse is left out of the time."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


def timed(read, rounds):
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = read()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def read_history(server, page, rounds, steps):
    instance = server.instances()[0]["id"]

    def whole():
        status, body = get(server.port, f"/v1/instances/{instance}")
        assert status == 200, body
        return body

    def paged():
        bodies, after = [], None
        while True:
            status, body = get(server.port, f"/v1/instances/{instance}/history?limit={page}" + (f"&after={after}" if after else ""))
            if status != 200:
                return None
            bodies.append(body)
            after = json.loads(body)["next"]
            if after is None:
                return bodies

    whole_s, body = timed(whole, rounds)
    result = {"steps": steps, "entries": len(json.loads(body)["history"]), "bytes": len(body),
              "whole_read_s": round(whole_s, 3)}
    if get(server.port, f"/v1/instances/{instance}/history?limit=1")[0] == 200:
        paged_s, bodies = timed(paged, rounds)
        first_s, _ = timed(lambda: get(server.port, f"/v1/instances/{instance}/history?limit={page}"), rounds)
        result.update({"paged_entries": sum(len(json.loads(b)["history"]) for b in bodies), "pages": len(bodies),
                       "all_pages_s": round(paged_s, 3), "first_page_ms": round(first_s * 1000, 2)})
    # Another client's small read while whole histories are read without pause: how long the
    # history holds the API's reader.
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            whole()
    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.2)
    small = []
    for _ in range(rounds * 10):
        started = time.perf_counter()
        assert get(server.port, "/v1/instances?limit=1")[0] == 200
        small.append(time.perf_counter() - started)
    stop.set()
    thread.join()
    result["list_ms_while_read_whole"] = round(statistics.median(small) * 1000, 2)
    result["list_ms_max_while_read_whole"] = round(max(small) * 1000, 2)
    print(json.dumps(result))


def main():
    flowd = os.path.abspath(sys.argv[1])
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
    page = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    directory = tempfile.mkdtemp(prefix="history-read-")
    try:
        with ProgressFlowd(flowd, directory, SINK_PORT) as server:
            assert server.post_event({"id": "o", "type": "Opened", "data": {"caseId": "c"}})[0] == 202
            post_steps(server, steps, lambda n: "c")
            read_history(server, page, rounds, steps)
    finally:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
