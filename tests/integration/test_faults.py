#!/usr/bin/env python3
"""Faults flowd must survive, each with the real binary: the database full (a size limit, and a
real full file system), a read-only file system, and command targets that disappear, reset
connections, answer slowly or not at all. Usage from ctest:
    python3 test_faults.py FLOWD_BINARY
The file-system tests mount a small tmpfs and are skipped (saying so) where mounting is not
permitted. FLOW_OUTAGE_SECONDS (default 3) sets how long a target stays away."""
import datetime
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flowd_harness import Flowd, Receiver, write_config  # noqa: E402

FLOWD = None
OUTAGE_SECONDS = float(os.environ.get("FLOW_OUTAGE_SECONDS", "3"))

FLOW = """
event Start { id: string, note: string }
command First to sink { id: string, note: string }
command Second to sink { id: string }
workflow Pair {
  key id: string
  start on Start as s { emit First { id: key, note: s.note } emit Second { id: key } goto Waiting }
  state Waiting { on Start { complete } }
}
"""


TWO_TARGETS_FLOW = """
event Stuck { id: string }
event Fine { id: string }
command ToSilent to silent { id: string }
command ToSink to sink { id: string }
workflow Silent {
  key id: string
  start on Stuck { emit ToSilent { id: key } goto Waiting }
  state Waiting { on Stuck { complete } }
}
workflow Quick {
  key id: string
  start on Fine { emit ToSink { id: key } goto Waiting }
  state Waiting { on Fine { complete } }
}
"""

ONE_TARGET_FLOW = """
event Go { id: string }
command Do to sink { id: string }
workflow One {
  key id: string
  start on Go { emit Do { id: key } goto Waiting }
  state Waiting { on Go { complete } }
}
"""

THREE_TARGETS_FLOW = """
event North { id: string }
event South { id: string }
event Fine { id: string }
command ToNorth to north { id: string }
command ToSouth to south { id: string }
command ToSink to sink { id: string }
workflow Northern {
  key id: string
  start on North { emit ToNorth { id: key } goto Waiting }
  state Waiting { on North { complete } }
}
workflow Southern {
  key id: string
  start on South { emit ToSouth { id: key } goto Waiting }
  state Waiting { on South { complete } }
}
workflow Quick {
  key id: string
  start on Fine { emit ToSink { id: key } goto Waiting }
  state Waiting { on Fine { complete } }
}
"""


# FLOW's pairs of commands to `sink`, and ONE_TARGET_FLOW's one command to `slow`.
SLOW_AND_QUICK_FLOW = FLOW + ONE_TARGET_FLOW.replace("to sink", "to slow")

TIMER_FLOW = """
event Go { id: string }
workflow Timed {
  key id: string
  start on Go { goto Waiting }
  state Waiting { after 1s { complete } on Go { complete } }
}
"""

LARGE_COMMAND_FLOW = """
event Go { id: string, note: string }
command Do to sink { id: string, note: string }
workflow One {
  key id: string
  start on Go as g { emit Do { id: key, note: g.note } goto Waiting }
  state Waiting { on Go { complete } }
}
"""


def start_event(n, note="x"):
    return {"id": f"e-{n}", "type": "Start", "data": {"id": f"k-{n}", "note": note}}


class FaultTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="flowd-faults-")
        self.flows = os.path.join(self.dir, "flows")
        os.mkdir(self.flows)
        with open(os.path.join(self.flows, "pair.flow"), "w") as f:
            f.write(FLOW)
        self.db = os.path.join(self.dir, "flow.db")
        self.receiver = None
        self.flowd = None
        self.mounted = None

    def tearDown(self):
        if self.flowd:
            self.flowd.stop(signal.SIGKILL)
        if self.receiver:
            self.receiver.close()
        if self.mounted:
            subprocess.run(["umount", "-l", self.mounted], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_with_targets(self, flow, targets):
        """flowd on `flow` alone, in place of the default one, with these targets bound."""
        for name in os.listdir(self.flows):
            os.remove(os.path.join(self.flows, name))
        with open(os.path.join(self.flows, "targets.flow"), "w") as f:
            f.write(flow)
        path = write_config(os.path.join(self.dir, "config.json"), targets=targets)
        self.flowd = Flowd(FLOWD, [self.flows], self.db, path).start(ready=True)
        return self.flowd

    @staticmethod
    def bound(url, timeout_ms, backoff_ms, max_attempts=100):
        """A target's config: its URL, its timeout, and the same backoff before every retry."""
        return {"url": url, "timeout_ms": timeout_ms,
                "retry": {"max_attempts": max_attempts, "initial_backoff_ms": backoff_ms, "max_backoff_ms": backoff_ms}}

    def post_fine_and_wait(self, flowd, count, timeout=30):
        """Posts `count` events whose commands go to the healthy `sink`; the seconds from the first
        post until all of them arrived."""
        posted = time.monotonic()
        for n in range(count):
            self.post_keyed(flowd, "Fine", f"f-{n}")
        flowd.wait_for(lambda: len(self.receiver.commands()) == count, timeout=timeout, what="the healthy target's commands")
        return time.monotonic() - posted

    def post_keyed(self, flowd, kind, key):
        """Posts an event of type `kind` whose id and `data.id` are both `key`; it must be accepted."""
        status, body = flowd.post_event({"id": key, "type": kind, "data": {"id": key}})
        self.assertEqual(status, 202, body)

    def start(self, retry=None, behaviour=None, ready=True, **config):
        if self.receiver is None:
            self.receiver = Receiver(behaviour)
        target = {"url": self.receiver.url("sink"), "timeout_ms": 1000,
                  "retry": retry or {"max_attempts": 100, "initial_backoff_ms": 50, "max_backoff_ms": 200}}
        path = write_config(os.path.join(self.dir, "config.json"), targets={"sink": target}, **config)
        self.flowd = Flowd(FLOWD, [self.flows], self.db, path).start(ready=ready)
        return self.flowd

    def mount_tmpfs(self, size):
        where = os.path.join(self.dir, "disk")
        os.mkdir(where)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", where], capture_output=True, text=True)
        if done.returncode != 0:
            self.skipTest("mounting a tmpfs is not permitted here: " + done.stderr.strip())
        self.mounted = where
        return where

    def remount(self, options):
        done = subprocess.run(["mount", "-o", "remount," + options, self.mounted], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)

    def post_until_refused(self, flowd, limit=20000, note="x"):
        """Posts new events until one is refused; returns (acknowledged events, the refused one)."""
        acknowledged = []
        for n in range(limit):
            event = start_event(n, note)
            status, body = flowd.post_event(event)
            if status == 202:
                acknowledged.append(event)
                continue
            self.assertEqual(status, 503, body)
            return acknowledged, event, body
        self.fail(f"{limit} events were all accepted")

    def assert_all_recorded_once(self, flowd, acknowledged):
        for event in acknowledged:
            status, body = flowd.post_event(event)
            self.assertEqual(status, 202, body)
            self.assertTrue(body["duplicate"], event["id"])
        keys = [i["key"] for i in flowd.instances(workflow="Pair")]
        self.assertEqual(len(keys), len(set(keys)))
        self.assertEqual(set(keys), {e["data"]["id"] for e in acknowledged})

    # ---- the database in trouble -----------------------------------------------------------

    def test_a_database_at_its_size_limit_answers_503_and_loses_nothing(self):
        target = {"up": False}
        flowd = self.start(max_database_mb=1, behaviour=lambda path, command, attempt: (200 if target["up"] else 503, {}),
                           retry={"max_attempts": 1000, "initial_backoff_ms": 1000, "max_backoff_ms": 1000})
        acknowledged, refused, body = self.post_until_refused(flowd, note="n" * 200)
        self.assertGreater(len(acknowledged), 10)
        self.assertIn("full", body["error"])
        self.assertEqual(flowd.request("GET", "/healthz")[0], 200)  # reads still answer
        # The target comes back while the database is full: the commands it takes cannot be
        # recorded as delivered. They are kept in hand, not sent again and again meanwhile.
        with self.receiver.lock:
            self.receiver.attempts.clear()
            target["up"] = True
        # The relay hands out nothing new while its records fail, and tries to record again after
        # a pause that doubles up to 10 s: the first command may come that late on a busy host
        # (a fixed 5 s wait then saw none). Once one has come, 5 s more would show repeats.
        deadline = time.time() + 25
        while time.time() < deadline:
            with self.receiver.lock:
                if self.receiver.attempts:
                    break
            time.sleep(0.1)
        time.sleep(5)
        with self.receiver.lock:
            sent_more_than_once = {command: n for command, n in self.receiver.attempts.items() if n > 1}
            sent = len(self.receiver.attempts)
        self.assertGreater(sent, 0)
        self.assertEqual(sent_more_than_once, {})
        self.assert_all_recorded_once(flowd, acknowledged)  # duplicates need no space
        # A larger limit: the refused event was never recorded, so it is new now.
        self.flowd.stop()
        flowd = self.start(max_database_mb=64)
        status, body = flowd.post_event(refused)
        self.assertEqual(status, 202, body)
        self.assertFalse(body["duplicate"])
        self.assert_all_recorded_once(flowd, acknowledged + [refused])

    def test_a_size_limit_below_the_database_is_named_at_start(self):
        # A database grown past 1 MiB by pages it has since freed: its content is flowd's alone.
        self.start()
        self.flowd.stop()
        raw = sqlite3.connect(self.db, isolation_level=None)
        raw.execute("CREATE TABLE filler (b BLOB)")
        raw.execute("INSERT INTO filler VALUES (zeroblob(3 * 1048576))")
        raw.execute("DROP TABLE filler")
        raw.close()  # the last connection: the WAL is written back into the file
        self.assertGreater(os.path.getsize(self.db), 2 * 1048576)
        flowd = self.start(max_database_mb=1)
        warnings = [json.loads(line) for line in flowd.log if 'already larger than max_database_mb' in line]
        self.assertEqual(len(warnings), 1, "".join(flowd.log))
        self.assertEqual(warnings[0]["level"], "warn")
        self.assertEqual(warnings[0]["max_database_mb"], 1)
        self.assertGreaterEqual(warnings[0]["database_mb"], 3)
        # Within the limit: no word.
        self.flowd.stop()
        flowd = self.start(max_database_mb=64)
        self.assertFalse([line for line in flowd.log if "max_database_mb" in line], "".join(flowd.log))

    def test_a_full_file_system_answers_503_and_recovers_by_itself(self):
        disk = self.mount_tmpfs("2m")
        self.db = os.path.join(disk, "flow.db")
        flowd = self.start()
        acknowledged, refused, body = self.post_until_refused(flowd, note="n" * 200)
        self.assertGreater(len(acknowledged), 0)
        self.assertEqual(flowd.request("GET", "/healthz")[0], 200)
        self.remount("size=64m")  # the trouble passes: no restart
        status, body = flowd.post_event(refused)
        self.assertEqual(status, 202, body)
        self.assertFalse(body["duplicate"])
        self.assert_all_recorded_once(flowd, acknowledged + [refused])
        # And after a crash, too: everything acknowledged is on disk.
        flowd.stop(signal.SIGKILL)
        flowd = self.start()
        self.assert_all_recorded_once(flowd, acknowledged + [refused])

    def test_a_read_only_file_system_answers_503_and_recovers_by_itself(self):
        disk = self.mount_tmpfs("64m")
        self.db = os.path.join(disk, "flow.db")
        flowd = self.start()
        self.assertEqual(flowd.post_event(start_event(1))[0], 202)
        self.assertEqual(flowd.stop(), 0)
        self.remount("ro")
        flowd = self.start(ready=False)  # listens, and answers 503 until the database can be written
        status, body = flowd.post_event(start_event(2))
        self.assertEqual(status, 503, body)
        self.assertIn("not available", body["error"])
        self.assertEqual(flowd.request("GET", "/healthz")[0], 503)
        status, text = flowd.request("GET", "/metrics")  # monitoring still sees why
        self.assertEqual(status, 200, text)
        self.assertIn("\nflow_database_available 0\n", text)
        self.assertEqual(flowd.request("HEAD", "/metrics")[0], 200)  # as the GET: it was 503 before
        self.remount("rw")
        flowd.wait_for(lambda: flowd.request("GET", "/healthz")[0] == 200, timeout=10, what="the database to open")
        status, body = flowd.post_event(start_event(2))
        self.assertEqual(status, 202, body)
        self.assertFalse(body["duplicate"])
        self.assertEqual(sorted(i["key"] for i in flowd.instances(workflow="Pair")), ["k-1", "k-2"])
        self.assertIn("\nflow_database_available 1\n", flowd.request("GET", "/metrics")[1])

    def test_a_stop_while_the_database_cannot_be_opened_is_clean(self):
        disk = self.mount_tmpfs("64m")
        self.db = os.path.join(disk, "flow.db")
        self.remount("ro")
        flowd = self.start(ready=False)  # answers 503, trying the database every second
        self.assertEqual(flowd.post_event(start_event(1))[0], 503)
        self.assertEqual(flowd.stop(), 0)
        time.sleep(0.2)
        self.assertTrue(any('"msg":"stopped"' in line for line in flowd.log), flowd.log[-3:])

    # ---- targets misbehaving ----------------------------------------------------------------

    def ingest_latencies(self, flowd, first, count):
        latencies = []
        for n in range(first, first + count):
            began = time.monotonic()
            status, body = flowd.post_event(start_event(n))
            latencies.append(time.monotonic() - began)
            self.assertEqual(status, 202, body)
        return latencies

    def assert_delivered_in_order(self, commands, instances):
        """Each instance's First arrived before its Second, each command under one id, none lost."""
        for i in instances:
            mine = [c for c in commands if c["instance"] == i["id"]]
            types = [c["type"] for c in mine]
            self.assertIn("First", types, i)
            self.assertIn("Second", types, i)
            self.assertLess(types.index("First"), types.index("Second"), (i, types))
            self.assertNotIn("First", types[types.index("Second"):], (i, types))
            for command_type in ("First", "Second"):
                self.assertEqual(len({c["id"] for c in mine if c["type"] == command_type}), 1)

    def test_a_target_that_disappears_and_comes_back_gets_everything_in_order(self):
        flowd = self.start()
        baseline = self.ingest_latencies(flowd, 0, 30)
        port = self.receiver.port
        self.receiver.close()  # the target is gone: connections are refused
        before = self.receiver.commands()
        during = self.ingest_latencies(flowd, 100, 30)
        time.sleep(OUTAGE_SECONDS)
        # Ingestion does not wait for the target.
        self.assertLess(statistics.median(during), statistics.median(baseline) * 3 + 0.05)
        self.receiver = Receiver(port=port)
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending&limit=1000")[1]["commands"],
                       timeout=30, what="the outbox to drain after the target came back")
        self.assertEqual(flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"], [])
        instances = flowd.instances(workflow="Pair")
        self.assertEqual(len(instances), 60)
        self.assert_delivered_in_order(before + self.receiver.commands(), instances)

    def test_a_target_resetting_connections_is_retried_in_order(self):
        def behaviour(path, command, attempt):
            return ("reset", {}) if attempt <= 2 else (200, {})

        flowd = self.start(behaviour=behaviour)
        self.ingest_latencies(flowd, 0, 10)
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"],
                       timeout=30, what="the outbox to drain")
        commands = self.receiver.commands()
        self.assertEqual(len(commands), 10 * 2 * 3)  # two resets, then the delivery
        self.assert_delivered_in_order(commands, flowd.instances(workflow="Pair"))
        # A reset on a kept-alive connection is sent again at once on a new one (the connection
        # may simply have gone stale), so one recorded attempt may cover two resets.
        _, outbox = flowd.request("GET", "/v1/outbox?status=delivered&limit=1000")
        self.assertEqual(len(outbox["commands"]), 20)
        self.assertTrue(all(2 <= c["attempts"] <= 3 and c["last_error"] is None for c in outbox["commands"]), outbox)

    def test_a_timer_that_cannot_fire_holds_back_none_of_the_others(self):
        # Three timers due at the same instant; the database refuses to write the second's
        # instance (a trigger stands in for a write it cannot take). The others fire; it is
        # put off a minute, said in the log, and not lost.
        flowd = self.start_with_targets(TIMER_FLOW, {})
        batch = [{"specversion": "1.0", "id": f"go-{n}", "source": "/t", "type": "Go", "data": {"id": f"k{n}"}} for n in range(3)]
        status, body = flowd.request("POST", "/v1/events", json.dumps(batch), {"Content-Type": "application/cloudevents-batch+json"})
        self.assertEqual(status, 202, body)
        ids = {d["key"]: d["instance"] for d in body[0]["deliveries"] + body[1]["deliveries"] + body[2]["deliveries"]}
        import sqlite3
        with sqlite3.connect(self.db) as db:
            db.execute("CREATE TRIGGER poisoned BEFORE UPDATE ON instances WHEN OLD.id = '%s' "
                       "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END" % ids["k1"])
        flowd.wait_for(lambda: all(flowd.request("GET", "/v1/instances/" + ids[k])[1]["status"] == "completed" for k in ("k0", "k2")),
                       timeout=15, what="the two other timers to fire")
        _, held = flowd.request("GET", "/v1/instances/" + ids["k1"])
        self.assertEqual((held["status"], held["state"]), ("running", "Waiting"), held)
        self.assertEqual(len(held["timers"]), 1, held)
        def at(text):
            return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        put_off = (at(held["timers"][0]["due"]) - at(held["created_at"])).total_seconds()
        self.assertTrue(55 < put_off < 70, held)  # due a second after its start, then a minute later
        flowd.wait_for(lambda: any("timers cannot fire" in line and ids["k1"] in line and "refused for the test" in line
                                   for line in flowd.log), timeout=5, what="the log line")

    def test_an_instances_next_command_follows_its_delivery_while_another_target_is_slow(self):
        # One commit hands out an instance's first command to a quick target and another
        # instance's to a slow one. The first's delivery is recorded within milliseconds, and
        # the instance's second command follows; it waited for the relay's next poll, a second
        # later, while the slow target held its command.
        arrived = {}

        def behaviour(path, command, attempt):
            arrived.setdefault((command["type"], command["key"]), time.monotonic())
            if path.endswith("/slow"):
                time.sleep(4)
            return 200, {}

        self.receiver = Receiver(behaviour)
        flowd = self.start_with_targets(SLOW_AND_QUICK_FLOW, {"sink": self.bound(self.receiver.url("sink"), 10000, 100),
                                                              "slow": self.bound(self.receiver.url("slow"), 10000, 100)})
        gaps = []
        for n in range(3):
            batch = [{"specversion": "1.0", "id": f"pair-{n}", "source": "/t", "type": "Start", "data": {"id": f"p{n}", "note": "n"}},
                     {"specversion": "1.0", "id": f"go-{n}", "source": "/t", "type": "Go", "data": {"id": f"s{n}"}}]
            status, body = flowd.request("POST", "/v1/events", json.dumps(batch), {"Content-Type": "application/cloudevents-batch+json"})
            self.assertEqual(status, 202, body)
            flowd.wait_for(lambda: ("Second", f"p{n}") in arrived, timeout=10, what="the second command")
            gaps.append(arrived[("Second", f"p{n}")] - arrived[("First", f"p{n}")])
            flowd.wait_for(lambda: ("Do", f"s{n}") in arrived, timeout=10, what="the slow command")
            time.sleep(4.2)  # the slow target done with it: the relay idle again
        self.assertLess(statistics.median(gaps), 0.5, gaps)

    def test_an_answer_given_before_the_body_was_read_counts_though_the_close_resets_the_send(self):
        # A target that answers from the header alone and closes without reading the body: its
        # close resets the connection while flowd still writes a large command. The answer came
        # first, and it is the answer that counts: a 413 is final, a 202 delivers.
        for status, outcome in ((413, "dead"), (202, "delivered")):
            with self.subTest(status=status):
                listener = socket.socket()
                listener.bind(("127.0.0.1", 0))
                listener.listen()
                listener.settimeout(0.2)
                requests, done = [], threading.Event()

                def answer_early(listener=listener, status=status):
                    while not done.is_set():
                        try:
                            connection, _ = listener.accept()
                        except socket.timeout:
                            continue
                        with connection:
                            head = b""
                            while b"\r\n\r\n" not in head:
                                chunk = connection.recv(4096)
                                if not chunk:
                                    break
                                head += chunk
                            requests.append(head.split(b"\r\n", 1)[0])
                            connection.sendall(b"HTTP/1.1 %d Early\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % status)
                thread = threading.Thread(target=answer_early, daemon=True)
                thread.start()
                try:
                    if self.flowd:
                        self.flowd.stop()
                    for suffix in ("", "-wal", "-shm"):  # a new database for each case
                        if os.path.exists(self.db + suffix):
                            os.remove(self.db + suffix)
                    url = "http://127.0.0.1:%d/commands" % listener.getsockname()[1]
                    flowd = self.start_with_targets(LARGE_COMMAND_FLOW, {"sink": self.bound(url, 2000, 100, max_attempts=5)})
                    status_code, body = flowd.post_event({"id": "big", "type": "Go", "data": {"id": "k", "note": "n" * 700000}})
                    self.assertEqual(status_code, 202, body)
                    flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"],
                                   timeout=30, what="the command to be settled")
                    _, listed = flowd.request("GET", "/v1/outbox?status=" + outcome)
                    self.assertEqual(len(listed["commands"]), 1, listed)
                    command = listed["commands"][0]
                    self.assertEqual(command["attempts"], 1, command)
                    if outcome == "dead":
                        self.assertTrue(command["last_error"].startswith("HTTP 413"), command)
                    self.assertEqual(len(requests), 1, requests)
                finally:
                    done.set()
                    thread.join(5)
                    listener.close()

    def test_a_slow_target_gets_each_command_once_and_ingestion_keeps_its_pace(self):
        def behaviour(path, command, attempt):
            time.sleep(0.3)  # slow, within the 1 s timeout
            return 200, {}

        flowd = self.start(behaviour=behaviour)
        latencies = self.ingest_latencies(flowd, 0, 10)
        self.assertLess(statistics.median(latencies), 0.25)  # no event waits for a delivery
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"],
                       timeout=30, what="the outbox to drain")
        commands = self.receiver.commands()
        self.assertEqual(len(commands), 20)  # each once: nothing timed out and was sent again
        self.assert_delivered_in_order(commands, flowd.instances(workflow="Pair"))

    def test_a_silent_target_holds_up_neither_its_round_nor_the_other_targets(self):
        # 40 commands to a target that answers nothing within its 500 ms timeout, then 5 to a
        # healthy one. Once the silent one gives no answer, its other commands handed out wait
        # for the same backoff instead of one timeout each (40 x 0.5 s over 4 lanes = 5 s).
        silent = Receiver(lambda path, command, attempt: (time.sleep(3), (200, {}))[1])
        try:
            self.receiver = Receiver()
            targets = {"silent": self.bound(silent.url("silent"), 500, 2000),
                       "sink": self.bound(self.receiver.url("sink"), 1000, 2000)}
            flowd = self.start_with_targets(TWO_TARGETS_FLOW, targets)
            for n in range(40):
                self.post_keyed(flowd, "Stuck", f"s-{n}")
            self.assertLess(self.post_fine_and_wait(flowd, 5), 3.0)
            def silent_waiting():
                _, outbox = flowd.request("GET", "/v1/outbox?status=pending&limit=1000")
                return [c for c in outbox["commands"] if c["target"] == "silent"]

            def deferred():
                return [c for c in silent_waiting() if "gave no answer to another command" in (c["last_error"] or "")]

            # Recorded once the lanes that tried the silent target have timed out.
            flowd.wait_for(deferred, timeout=10, what="commands deferred with a reason")
            self.assertEqual(len(silent_waiting()), 40)
            # Those not sent keep their attempt count.
            self.assertTrue(all(c["attempts"] == 0 for c in deferred()), deferred())
            self.assertEqual(flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"], [])
        finally:
            silent.close()

    def test_a_command_the_target_never_answers_holds_back_no_other_command_while_it_answers_them(self):
        # One command breaks the target's handler: the connection is reset, every attempt. The
        # target answers every other command at once. Those other commands, posted before and
        # after it, arrive well within its 5 s backoff: the target answers,
        # so it is not taken for a silent one.
        def behaviour(path, command, attempt):
            return ("reset", {}) if command["data"]["id"] == "poison" else (200, {})

        self.receiver = Receiver(behaviour)
        flowd = self.start_with_targets(ONE_TARGET_FLOW, {"sink": self.bound(self.receiver.url("sink"), 1000, 5000)})
        waits = []

        def post_healthy_and_wait(n):
            posted = time.monotonic()
            self.post_keyed(flowd, "Go", f"h-{n}")
            flowd.wait_for(lambda: any(c["key"] == f"h-{n}" for c in self.receiver.commands()), timeout=30,
                           what=f"healthy command {n}")
            waits.append(time.monotonic() - posted)

        for n in range(3):
            post_healthy_and_wait(n)
        self.post_keyed(flowd, "Go", "poison")
        flowd.wait_for(lambda: any(c["key"] == "poison" for c in self.receiver.commands()), timeout=10,
                       what="the poison's first attempt")
        for n in range(3, 15):
            post_healthy_and_wait(n)
            time.sleep(0.1)
        # Held back, they would wait out the poison's 5 s backoff: 2.5 s is halfway.
        self.assertLess(max(waits), 2.5, [round(w, 2) for w in waits])
        _, pending = flowd.request("GET", "/v1/outbox?status=pending")
        self.assertEqual([c["type"] for c in pending["commands"]], ["Do"])  # the poison alone, on its own backoff
        self.assertFalse(any("gave no answer to another command" in (c["last_error"] or "")
                             for c in flowd.request("GET", "/v1/outbox?status=delivered&limit=100")[1]["commands"]))

    def test_a_hanging_target_does_not_hold_up_the_other_targets(self):
        # The silent target holds every request for 10 s, past its 4 s timeout, and its commands
        # come due again every 100 ms while new ones keep coming. Each command to the healthy
        # target, posted meanwhile, still arrives well within that timeout: no lane waits out the silent
        # target's timeout before sending it, and the silent target never takes every lane.
        silent = Receiver(lambda path, command, attempt: (time.sleep(10), (200, {}))[1])
        try:
            self.receiver = Receiver()
            targets = {"silent": self.bound(silent.url("silent"), 4000, 100, max_attempts=1000),
                       "sink": self.bound(self.receiver.url("sink"), 1000, 100, max_attempts=1000)}
            flowd = self.start_with_targets(TWO_TARGETS_FLOW, targets)
            waits = []
            for n in range(40):
                for k in range(3):
                    self.post_keyed(flowd, "Stuck", f"s-{n}-{k}")
                posted = time.monotonic()
                self.post_keyed(flowd, "Fine", f"f-{n}")
                flowd.wait_for(lambda: len(self.receiver.commands()) == n + 1, timeout=30, what=f"the healthy target's command {n}")
                waits.append(time.monotonic() - posted)
                time.sleep(0.05)
            # Held up, one would wait out the silent target's 4 s timeout: 2 s is halfway.
            self.assertLess(max(waits), 2.0, [round(w, 2) for w in waits])
            self.assertEqual(flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"], [])
        finally:
            silent.close()

    def test_two_hanging_targets_do_not_hold_up_a_third(self):
        # Two targets hold every request for 10 s, past their 4 s timeout; 8 commands go to each
        # (enough to fill four lanes apiece), then 3 to a healthy target. Each target has lanes of
        # its own, so the healthy commands arrive at once instead of after a timeout.
        slow = [Receiver(lambda path, command, attempt: (time.sleep(10), (200, {}))[1]) for _ in range(2)]
        try:
            self.receiver = Receiver()
            targets = {"north": self.bound(slow[0].url("north"), 4000, 5000),
                       "south": self.bound(slow[1].url("south"), 4000, 5000),
                       "sink": self.bound(self.receiver.url("sink"), 1000, 5000)}
            flowd = self.start_with_targets(THREE_TARGETS_FLOW, targets)
            for n in range(8):
                for kind in ("North", "South"):
                    self.post_keyed(flowd, kind, f"{kind}-{n}")
            # Both hanging targets hold their four lanes by now.
            flowd.wait_for(lambda: len(slow[0].commands()) >= 4 and len(slow[1].commands()) >= 4, timeout=10,
                           what="four requests waiting at each hanging target")
            self.assertLess(self.post_fine_and_wait(flowd, 3), 2.0)
        finally:
            for r in slow:
                r.close()

    def test_a_slow_targets_backlog_does_not_hold_up_another_target(self):
        # A target answering each command in 0.5 s gets 400: more than the 256 the relay hands out
        # to one target, so the rest wait in the database, due before anything posted later. The
        # three commands then posted to a healthy target arrive at once: the relay reads each
        # target's due commands on its own (before: behind the slow target's backlog, for seconds).
        slow = Receiver(lambda path, command, attempt: (time.sleep(0.5), (200, {}))[1])
        try:
            self.receiver = Receiver()
            targets = {"silent": self.bound(slow.url("silent"), 3000, 1000),
                       "sink": self.bound(self.receiver.url("sink"), 1000, 1000)}
            flowd = self.start_with_targets(TWO_TARGETS_FLOW, targets)
            for n in range(400):
                self.post_keyed(flowd, "Stuck", f"s-{n}")
            waited = self.post_fine_and_wait(flowd, 3, timeout=60)
            # The slow target's backlog is still there: the healthy commands did not wait for it.
            self.assertLess(len(slow.commands()), 250)
            self.assertLess(waited, 2.0)
        finally:
            slow.close()

    def test_a_stop_does_not_wait_out_a_target_that_hangs(self):
        # The target holds each request for 30 s, its timeout is 20 s: the stop cuts the attempt
        # off after its 2 s grace, records it as failed, and the command is sent after a restart.
        hanging = threading.Event()
        def behaviour(path, command, attempt):
            if not hanging.is_set():  # the first request only
                hanging.set()
                time.sleep(30)
            return 200, {}
        self.receiver = Receiver(behaviour)
        retry = {"max_attempts": 10, "initial_backoff_ms": 50, "max_backoff_ms": 100}
        targets = {"sink": {"url": self.receiver.url("sink"), "timeout_ms": 20000, "retry": retry}}
        path = write_config(os.path.join(self.dir, "config.json"), targets=targets)
        flowd = self.flowd = Flowd(FLOWD, [self.flows], self.db, path).start(ready=True)
        self.assertEqual(flowd.post_event(start_event(1))[0], 202)
        self.assertTrue(hanging.wait(10))
        stopping = time.monotonic()
        self.assertEqual(flowd.stop(signal.SIGTERM, timeout=30), 0)
        self.assertLess(time.monotonic() - stopping, 8)
        flowd = self.flowd = Flowd(FLOWD, [self.flows], self.db, path).start(ready=True)
        flowd.wait_for(lambda: flowd.request("GET", "/v1/outbox?status=delivered")[1]["commands"], timeout=15,
                       what="the cut-off command delivered after the restart")
        delivered = flowd.request("GET", "/v1/outbox?status=delivered")[1]["commands"]
        self.assertEqual(delivered[0]["type"], "First")
        self.assertEqual(delivered[0]["attempts"], 2)
        flowd.wait_for(lambda: len(flowd.request("GET", "/v1/outbox?status=delivered")[1]["commands"]) == 2, timeout=15,
                       what="both commands delivered")


if __name__ == "__main__":
    FLOWD = sys.argv.pop(1)
    unittest.main(verbosity=2)
