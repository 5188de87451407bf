#!/usr/bin/env python3
"""How long an accepted event waits while other clients send events the declarations refuse and
another reads a long history. Whether a refused event's id was accepted before is a read of the
database; a read waits for the API's reader while the history is read. The script gives one
instance of bench/flows/progress.flow STEPS steps, then times ROUNDS `Opened` events posted one
after another on one connection: first alone, then while REFUSERS clients post events of an
unknown type without pause and one client reads the whole history without pause. It prints the
median, p99 and longest wait of each. Run by hand, one binary after the other:
    bench/refused_event_stall.py FLOWD [STEPS] [ROUNDS] [REFUSERS]
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

SINK_PORT = 9354


def post_loop(port, stop, make_body, expected):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    n = 0
    while not stop.is_set():
        n += 1
        connection.request("POST", "/v1/events", make_body(n), {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.status == expected, response.status
    connection.close()


def read_loop(port, stop, instance):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while not stop.is_set():
        connection.request("GET", f"/v1/instances/{instance}")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
    connection.close()


def timed_starts(port, rounds, prefix):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    waits = []
    for n in range(rounds):
        body = json.dumps({"id": f"{prefix}{n}", "type": "Opened", "data": {"caseId": f"{prefix}{n}"}})
        started = time.perf_counter()
        connection.request("POST", "/v1/events", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        waits.append(time.perf_counter() - started)
        assert response.status == 202
    connection.close()
    waits.sort()
    return {"median_ms": round(statistics.median(waits) * 1000, 2), "p99_ms": round(waits[int(len(waits) * 0.99) - 1] * 1000, 2),
            "max_ms": round(waits[-1] * 1000, 2)}


def main():
    flowd = os.path.abspath(sys.argv[1])
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    refusers = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    directory = tempfile.mkdtemp(prefix="refused-stall-")
    try:
        with ProgressFlowd(flowd, directory, SINK_PORT) as server:
            assert server.post_event({"id": "o", "type": "Opened", "data": {"caseId": "c"}})[0] == 202
            post_steps(server, steps, lambda n: "c")
            instance = server.instances(key="c")[0]["id"]
            result = {"steps": steps, "rounds": rounds, "refusers": refusers, "alone": timed_starts(server.port, rounds, "alone-")}
            stop = threading.Event()
            threads = [threading.Thread(target=read_loop, args=(server.port, stop, instance))]
            for r in range(refusers):
                threads.append(threading.Thread(target=post_loop, args=(
                    server.port, stop, lambda n, r=r: json.dumps({"id": f"refused-{r}-{n}", "type": "Nope", "data": {}}), 422)))
            for thread in threads:
                thread.start()
            time.sleep(0.5)
            result["beside_refusals_and_reads"] = timed_starts(server.port, rounds, "busy-")
            stop.set()
            for thread in threads:
                thread.join()
            print(json.dumps(result))
    finally:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
