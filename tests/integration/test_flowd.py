#!/usr/bin/env python3
"""Integration tests of the real flowd binary: usage from ctest is
    python3 test_flowd.py FLOWD_BINARY SOURCE_DIR
Each test starts flowd on an ephemeral port with its own database and a real HTTP receiver."""
import base64
import hashlib
import hmac
import http.client
import http.server
import importlib.util
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flowd_harness import Flowd, RawTarget, Receiver, post_until, write_config  # noqa: E402

FLOWD = SOURCE = None

TEST_FLOW = """
event Start { id: string, n: int }
event Poke { id: string }
command First to sink { id: string, n: int }
command Second to sink { id: string }
workflow Test {
  key id: string
  var pokes: int = 0
  start on Start as s { emit First { id: key, n: s.n } emit Second { id: key } goto Waiting }
  state Waiting {
    on Poke { pokes = pokes + 1 if pokes >= 2 { complete } }
    after 2s { goto Late }
  }
  state Late { on Poke { emit Second { id: key } complete } }
}
"""

SECRET = "whsec_" + base64.b64encode(b"test-secret-key-0123456789").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"rotated-secret-key-987654").decode()


def sign(secret, msg_id, timestamp, body):
    key = base64.b64decode(secret[len("whsec_"):])
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class FlowdTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="flowd-test-")
        self.flows = os.path.join(self.dir, "flows")
        os.mkdir(self.flows)
        with open(os.path.join(self.flows, "test.flow"), "w") as f:
            f.write(TEST_FLOW)
        self.receiver = None
        self.flowd = None

    def tearDown(self):
        if self.flowd:
            self.flowd.stop(signal.SIGKILL)
        if self.receiver:
            self.receiver.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, behaviour=None, flows=None, retry=None, **config):
        if self.receiver is None:
            self.receiver = Receiver(behaviour)
        target = {"url": self.receiver.url("sink"), "timeout_ms": 1000,
                  "retry": retry or {"max_attempts": 4, "initial_backoff_ms": 50, "max_backoff_ms": 200}}
        config.setdefault("targets", {"sink": target})
        path = write_config(os.path.join(self.dir, "config.json"), **config)
        self.flowd = Flowd(FLOWD, flows or [self.flows], os.path.join(self.dir, "flow.db"), path).start()
        return self.flowd

    def state_of(self, instance_id):
        status, body = self.flowd.request("GET", f"/v1/instances/{instance_id}")
        self.assertEqual(status, 200, body)
        return body

    # ---- the happy path ---------------------------------------------------------------

    def test_event_starts_an_instance_and_its_commands_arrive_in_order(self):
        flowd = self.start()
        status, body = flowd.post_event({"id": "e1", "type": "Start", "data": {"id": "k1", "n": 7}})
        self.assertEqual(status, 202, body)
        self.assertFalse(body["duplicate"])
        delivery = body["deliveries"][0]
        self.assertEqual((delivery["workflow"], delivery["key"], delivery["outcome"], delivery["state"]),
                         ("Test", "k1", "started", "Waiting"))
        commands = flowd.wait_for(lambda: len(self.receiver.commands()) >= 2 and self.receiver.commands(), what="commands")
        self.assertEqual([c["type"] for c in commands], ["First", "Second"])
        first = self.receiver.received[0]
        self.assertEqual(first["headers"]["Idempotency-Key"], first["command"]["id"])
        self.assertEqual(first["headers"]["Content-Type"], "application/json")
        self.assertEqual(sorted(first["command"]), ["data", "id", "instance", "key", "type", "workflow"])
        self.assertEqual(first["command"]["data"], {"id": "k1", "n": 7})
        self.assertEqual(first["command"]["instance"], delivery["instance"])
        again = flowd.post_event({"id": "e1", "type": "Start", "data": {"id": "k1", "n": 7}})
        self.assertEqual(again[0], 202)
        self.assertTrue(again[1]["duplicate"])
        self.assertEqual(again[1]["deliveries"], body["deliveries"])
        details = self.state_of(delivery["instance"])
        self.assertEqual(details["vars"], {"pokes": 0})
        kinds = [h["kind"] for h in details["history"]]
        # In the order things happened: the handler emits both commands, then goes to Waiting.
        self.assertEqual(kinds, ["delivery", "command", "command", "transition"])
        self.assertEqual(details["history"][3]["to"], "Waiting")

    def test_the_example_config_serves_the_examples(self):
        # scripts/run.sh starts flowd so: the config must load, bind every target and set retention.
        self.flowd = Flowd(FLOWD, [os.path.join(SOURCE, "examples")], os.path.join(self.dir, "flow.db"),
                           os.path.join(SOURCE, "examples", "flowd.json")).start()
        status, body = self.flowd.request("GET", "/v1/workflows")
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted(w["name"] for w in body["workflows"]),
                         ["CampaignPublishing", "OrderFulfillment", "TicketLifecycle", "TripBooking"])
        self.assertIn('flow_pruned_total{what="events"} 0', self.flowd.request("GET", "/metrics")[1])
        import sqlite3
        with sqlite3.connect(os.path.join(self.dir, "flow.db")) as db:
            indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'index'")}
        self.assertTrue({"outbox_by_instance", "inbox_by_age"} <= indexes, indexes)
        self.assertEqual(self.flowd.stop(), 0)

    def test_every_example_runs_end_to_end_with_the_demo_services(self):
        spec = importlib.util.spec_from_file_location("demo", os.path.join(SOURCE, "examples", "services", "demo_services.py"))
        demo = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(demo)
        answers = []

        def behaviour(path, command, attempt):
            if attempt == 1:
                answers.extend(demo.reactions(command))
            return 200, {}

        self.receiver = Receiver(behaviour)
        targets = {t: {"url": self.receiver.url(t)} for t in
                   ["publishing", "campaigns", "inventory", "payments", "shipping", "mail", "routing", "notifications",
                    "tickets", "approvals", "flights", "hotels"]}
        flowd = self.start(flows=[os.path.join(SOURCE, "examples")], targets=targets)
        starts = [
            {"type": "CampaignActivated", "data": {"campaignId": "c1", "advertising": "banner"}},
            {"type": "OrderPlaced", "data": {"orderId": "o1", "customer": "eve", "total": {"amount": 9.5, "currency": "EUR"},
                                             "lines": [{"sku": "a", "quantity": 1}], "payBy": "2099-01-01T00:00:00Z"}},
            {"type": "TripRequested", "data": {"bookingId": "t1", "traveler": "ana", "destination": "Oslo", "budget": 900}},
            {"type": "TicketOpened", "data": {"ticketId": "k1", "tenant": "acme", "priority": "low", "openedAt": "2026-01-01T00:00:00Z"}},
        ]
        for i, event in enumerate(starts):
            self.assertEqual(flowd.post_event(dict(event, id=f"start-{i}"))[0], 202)
        expected = {"CampaignPublishing": "completed", "OrderFulfillment": "completed", "TripBooking": "completed",
                    "TicketLifecycle": "running"}
        n = 0
        deadline = time.time() + 20
        while time.time() < deadline:
            while answers:
                event_type, data = answers.pop(0)
                n += 1
                self.assertEqual(flowd.post_event({"id": f"answer-{n}", "type": event_type, "data": data})[0], 202)
            statuses = {i["workflow"]: (i["status"], i["state"]) for i in flowd.instances()}
            if all(statuses.get(w, ("", ""))[0] == s for w, s in expected.items()) and \
                    statuses["TicketLifecycle"][1] == "AwaitingCustomer":
                break
            time.sleep(0.05)
        statuses = {i["workflow"]: (i["status"], i["state"]) for i in flowd.instances()}
        self.assertEqual(statuses, {"CampaignPublishing": ("completed", "AwaitingPublisher"),
                                    "OrderFulfillment": ("completed", "Shipping"),
                                    "TripBooking": ("completed", "BookingHotel"),
                                    "TicketLifecycle": ("running", "AwaitingCustomer")})

    # ---- bad input changes nothing -----------------------------------------------------

    def test_bad_input_is_refused_with_its_status_and_changes_nothing(self):
        flowd = self.start(max_body_bytes=4096)
        cases = [
            (b"not json", {}, 400, "not JSON"),
            (json.dumps([1, 2]), {}, 400, "not an event"),
            (json.dumps({"type": "Start", "data": {}}), {}, 400, "'id'"),
            (json.dumps({"id": "x", "type": "Nope", "data": {}}), {}, 422, "Nope"),
            (json.dumps({"id": "x", "type": "Start", "data": {"id": "k"}}), {}, 422, "data.n"),
            (json.dumps({"id": "x", "type": "Start", "data": {"id": "k", "n": "seven"}}), {}, 422, "data.n"),
            ("[" * 100 + "]" * 100, {}, 400, "deeper"),
            (json.dumps({"id": "x' OR '1'='1", "type": "Start", "data": {"id": 5, "n": 1}}), {}, 422, "data.id"),
            (b"\xff\xfe{}", {}, 400, "not JSON"),
        ]
        for body, headers, expected, mention in cases:
            status, answer = flowd.post_event(body, headers)
            self.assertEqual(status, expected, (body, answer))
            self.assertIn(mention, answer["error"], answer)
        status, answer = flowd.post_event("x" * 5000)
        self.assertEqual(status, 413)
        self.assertEqual(flowd.request("GET", "/v1/nowhere")[0], 404)
        self.assertEqual(flowd.request("GET", "/v1/instances/..%2F..%2Fetc%2Fpasswd")[0], 404)
        self.assertEqual(flowd.request("GET", "/v1/instances/%27%3B%20DROP%20TABLE%20instances%3B%20--")[0], 404)
        self.assertEqual(flowd.request("DELETE", "/v1/events")[0], 405)
        self.assertEqual(flowd.request("POST", "/v1/instances/nope/cancel")[0], 404)
        self.assertEqual(flowd.request("POST", "/v1/outbox/nope/retry")[0], 404)
        self.assertEqual(flowd.instances(), [])
        # A rejected id was not recorded: the same id, now valid, is not a duplicate.
        status, answer = flowd.post_event({"id": "x", "type": "Start", "data": {"id": "k", "n": 1}})
        self.assertEqual(status, 202)
        self.assertFalse(answer["duplicate"])
        # SQL in a valid event's id and key is data like any other: kept as written, and the
        # tables it names are still there (the same id again is a duplicate, read from the inbox).
        hostile = {"id": "x'; DROP TABLE inbox;--", "type": "Start", "data": {"id": "k'); DROP TABLE instances;--", "n": 1}}
        status, answer = flowd.post_event(hostile)
        self.assertEqual((status, answer["duplicate"]), (202, False), answer)
        self.assertEqual(flowd.post_event(hostile)[1]["duplicate"], True)
        self.assertEqual(sorted(i["key"] for i in flowd.instances()), ["k", "k'); DROP TABLE instances;--"])

    def test_ids_made_in_the_same_millisecond_sort_in_the_order_they_were_made(self):
        flowd = self.start()
        batch = [{"specversion": "1.0", "id": f"o{i}", "source": "/test", "type": "Start", "data": {"id": f"o{i}", "n": 1}}
                 for i in range(200)]
        status, body = flowd.request("POST", "/v1/events", json.dumps(batch), {"Content-Type": "application/cloudevents-batch+json"})
        self.assertEqual(status, 202, body)
        made = [b["deliveries"][0]["instance"] for b in body]
        self.assertEqual(made, sorted(made))
        self.assertEqual(len(set(made)), 200)
        listed = [i["id"] for i in flowd.instances()]  # in the order they were stored
        self.assertEqual(listed, made)
        commands = flowd.wait_for(lambda: (c := flowd.request("GET", "/v1/outbox?limit=1000")[1]["commands"]) and len(c) >= 200 and c,
                                  what="the commands")
        ids = [c["id"] for c in commands]
        self.assertEqual(ids, sorted(ids))

    def test_cloudevents_structured_binary_and_batch(self):
        flowd = self.start()
        structured = {"specversion": "1.0", "id": "ce1", "source": "/test", "type": "Start", "time": "2026-01-01T00:00:00Z",
                      "data": {"id": "a", "n": 1}}
        self.assertEqual(flowd.post_event(structured, {"Content-Type": "application/cloudevents+json"})[0], 202)
        status, body = flowd.request("POST", "/v1/events", json.dumps({"id": "b", "n": 2}),
                                     {"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "ce2",
                                      "ce-type": "Start", "ce-source": "/test"})
        self.assertEqual(status, 202, body)
        # An attribute given twice has no one value: refused, nothing stored.
        twice = json.dumps({"id": "t", "n": 1}).encode()
        answer = self.raw_exchange(flowd, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                          b"ce-specversion: 1.0\r\nce-id: ce9\r\nce-type: Start\r\nce-source: /test\r\n"
                                          b"CE-ID: ce10\r\nConnection: close\r\nContent-Length: " + str(len(twice)).encode() +
                                          b"\r\n\r\n" + twice)
        self.assertTrue(answer.startswith("HTTP/1.1 400"), answer)
        self.assertIn("the header ce-id is given more than once", answer)
        self.assertEqual(len(flowd.instances()), 2)
        batch = [dict(structured, id="ce3", data={"id": "c", "n": 3}), dict(structured, id="ce4", data={"id": "d"})]
        status, body = flowd.request("POST", "/v1/events", json.dumps(batch), {"Content-Type": "application/cloudevents-batch+json"})
        self.assertEqual(status, 422, body)
        self.assertEqual(body["index"], 1)
        self.assertEqual(len(flowd.instances()), 2)  # nothing of the refused batch
        batch[1]["data"]["n"] = 4
        status, body = flowd.request("POST", "/v1/events", json.dumps(batch), {"Content-Type": "application/cloudevents-batch+json"})
        self.assertEqual(status, 202, body)
        self.assertEqual([b["deliveries"][0]["key"] for b in body], ["c", "d"])
        self.assertEqual(len(flowd.instances()), 4)

    def test_a_batch_of_more_events_than_max_batch_events_is_refused_whole_and_the_connection_closed(self):
        flowd = self.start(max_batch_events=2)
        structured = {"specversion": "1.0", "source": "/test", "type": "Start"}
        batch = [dict(structured, id="mb%d" % i, data={"id": "mb%d" % i, "n": i}) for i in range(3)]
        body = json.dumps(batch).encode()
        # After a 413 the connection is closed (docs/http-api.md): the answer says so, and the
        # server ends the connection after it.
        with socket.create_connection(("127.0.0.1", flowd.port), timeout=10) as raw:
            raw.sendall(b"POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/cloudevents-batch+json\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(body) + body)
            received = b""
            while True:
                chunk = raw.recv(65536)
                if not chunk:
                    break  # the server closed
                received += chunk
        head, _, answer_body = received.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 413 "), head)
        self.assertIn(b"\r\nConnection: close", head)
        answer = json.loads(answer_body)
        self.assertEqual(answer["error"], "a batch holds at most 2 events (max_batch_events), and this one holds 3: send it in parts")
        self.assertEqual(flowd.instances(), [])
        # A new connection takes the batch in parts.
        connection = http.client.HTTPConnection("127.0.0.1", flowd.port, timeout=10)
        headers = {"Content-Type": "application/cloudevents-batch+json"}
        for part in (batch[:2], batch[2:]):
            connection.request("POST", "/v1/events", body=json.dumps(part), headers=headers)
            response = connection.getresponse()
            self.assertEqual(response.status, 202, response.read())
            response.read()
        connection.close()
        self.assertEqual(len(flowd.instances()), 3)
        self.assertIn('flow_events_total{outcome="rejected_413"} 1', flowd.request("GET", "/metrics")[1])

    def test_chunked_request_bodies(self):
        flowd = self.start()
        connection = http.client.HTTPConnection("127.0.0.1", flowd.port, timeout=10)
        body = json.dumps({"id": "chunky", "type": "Start", "data": {"id": "ch", "n": 1}}).encode()
        connection.request("POST", "/v1/events", body=iter([body[:10], body[10:]]),
                           headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"}, encode_chunked=True)
        response = connection.getresponse()
        self.assertEqual(response.status, 202, response.read())

    # ---- security ----------------------------------------------------------------------

    def test_webhook_signatures_valid_forged_stale_missing_and_rotated(self):
        flowd = self.start(webhook_secrets=[SECRET, OTHER_SECRET])
        body = json.dumps({"id": "s1", "type": "Start", "data": {"id": "s", "n": 1}})
        now = int(time.time())

        def headers(secret, ts, msg_id="msg-1", signature=None):
            return {"Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
                    "webhook-signature": signature or sign(secret, msg_id, ts, body)}

        self.assertEqual(flowd.post_event(body, {"Content-Type": "application/json"})[0], 401)
        # The signature is checked first: an unsigned body is refused as unsigned, whatever it holds;
        # a signed one is then read as an event.
        self.assertEqual(flowd.post_event("{not json", {"Content-Type": "application/json"})[0], 401)
        signed_garbage = {**headers(SECRET, now, msg_id="msg-g"), "webhook-signature": sign(SECRET, "msg-g", now, "{not json")}
        self.assertEqual(flowd.post_event("{not json", signed_garbage)[0], 400)
        self.assertEqual(flowd.post_event(body, headers(SECRET, now, signature="v1,Zm9yZ2Vk"))[0], 401)
        self.assertEqual(flowd.post_event(body, headers(SECRET, now - 3600))[0], 401)
        self.assertEqual(flowd.post_event(body, headers(SECRET, now + 3600))[0], 401)
        self.assertEqual(flowd.instances(), [])
        self.assertEqual(flowd.post_event(body, headers(OTHER_SECRET, now, signature="v1,bad " + sign(OTHER_SECRET, "msg-1", now, body)))[0], 202)
        self.assertEqual(len(flowd.instances()), 1)
        self.assertFalse(any(SECRET in line or OTHER_SECRET in line for line in flowd.log))

    def test_a_signed_message_replayed_with_other_headers_is_refused_even_after_a_restart(self):
        flowd = self.start(webhook_secrets=[SECRET])
        data = json.dumps({"id": "b1", "n": 1})

        def binary(ce_id, ce_type="Start", msg_id="msg-b", content_type="application/json", body=data, age=0):
            now = int(time.time()) - age
            return {"Content-Type": content_type, "ce-specversion": "1.0", "ce-id": ce_id, "ce-type": ce_type,
                    "ce-source": "/test", "webhook-id": msg_id, "webhook-timestamp": str(now),
                    "webhook-signature": sign(SECRET, msg_id, now, body)}

        earlier_copy = binary("e-1", age=10)  # signed before the copy that arrives: never accepted itself
        first = binary("e-1")
        status, body = flowd.post_event(data, first)
        self.assertEqual((status, body["duplicate"]), (202, False), body)
        # The body and its signature replayed as they were, under another event id or another
        # type: the headers are not signed, so the signed message itself, bound to what it was
        # first read as, tells the replay apart. Every signed copy of the message shares the
        # binding, one signed at another time too.
        for copy in [first, earlier_copy]:
            for altered in [{"ce-id": "e-1-again"}, {"ce-id": "e-1-again", "ce-type": "Poke"}]:
                status, body = flowd.post_event(data, {**copy, **altered})
                self.assertEqual(status, 401, body)
                self.assertIn("this signed message (webhook-id msg-b, with the same body) was received before "
                              "with other Content-Type or ce- headers", body["error"])
            # Under its own event id still, it is that id repeated: a duplicate, which changes nothing.
            status, body = flowd.post_event(data, {**copy, "ce-type": "Poke"})
            self.assertEqual((status, body["duplicate"]), (202, True), body)
        self.assertEqual(len(flowd.instances()), 1)
        # The message sent again as it was, the sender's retry signed anew, and a copy whose
        # headers change nothing of what is read (a charset), are duplicates.
        for again in [first, binary("e-1"), {**first, "Content-Type": "application/json; charset=utf-8"}]:
            status, body = flowd.post_event(data, again)
            self.assertEqual((status, body["duplicate"]), (202, True), body)
        # A sender that reuses a webhook-id for another body, signed anew, is not refused: that
        # is a new message (Standard Webhooks asks for unique ids, but only a replay is an attack).
        other = json.dumps({"id": "b2", "n": 1})
        status, body = flowd.post_event(other, binary("e-2", body=other))
        self.assertEqual((status, body["duplicate"]), (202, False), body)
        # The binding is kept in the database: a restart does not open a window for the replay.
        self.assertEqual(flowd.stop(), 0)
        flowd = self.start(webhook_secrets=[SECRET])
        self.assertEqual(flowd.post_event(data, {**first, "ce-id": "e-1-again"})[0], 401)
        self.assertEqual(flowd.post_event(data, first)[0], 202)
        self.assertEqual(len(flowd.instances()), 2)
        status, metrics = flowd.request("GET", "/metrics")
        self.assertIn('flow_events_total{outcome="rejected_401"} 1', metrics)

    def test_admin_token_guards_every_other_route(self):
        flowd = self.start(admin_token="s3cret")
        for path in ["/v1/instances", "/v1/workflows", "/v1/outbox", "/v1/instances/x", "/v1/outbox/x", "/v1/instances/x/history"]:
            self.assertEqual(flowd.request("GET", path)[0], 401, path)
            self.assertEqual(flowd.request("GET", path, headers={"Authorization": "Bearer wrong"})[0], 401, path)
        self.assertEqual(flowd.request("DELETE", "/v1/outbox/x")[0], 401)
        for path in ["/v1/outbox/retry", "/v1/outbox/delete?target=sink", "/v1/instances/x/cancel"]:
            self.assertEqual(flowd.request("POST", path)[0], 401, path)
        self.assertEqual(flowd.request("GET", "/v1/instances", headers={"Authorization": "Bearer s3cret"})[0], 200)
        self.assertEqual(flowd.request("GET", "/healthz")[0], 200)
        self.assertEqual(flowd.request("GET", "/metrics")[0], 200)

    def raw_exchange(self, flowd, raw):
        """Sends bytes as they are and reads until the server closes the connection."""
        with socket.create_connection(("127.0.0.1", flowd.port), timeout=5) as s:
            s.sendall(raw)
            answer = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return answer.decode(errors="replace")
                answer += chunk

    def test_a_header_over_the_limit_is_431_and_the_connection_closed_saying_so(self):
        # RFC 9112 9.6: a server that closes after its answer says so with Connection: close.
        flowd = self.start()
        raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        answer = self.raw_exchange(flowd, raw)
        self.assertTrue(answer.startswith("HTTP/1.1 431"), answer)
        self.assertIn("Connection: close", answer)
        self.assertIn("the request header is too large", answer)
        self.assertEqual(answer.count("HTTP/1.1"), 1, answer)  # the request after it is not answered
        self.assertEqual(flowd.request("GET", "/healthz")[0], 200)

    def test_http_conventions_head_allow_bearer_case_and_request_forms(self):
        flowd = self.start(admin_token="s3cret")
        # HEAD: the GET's status and Content-Length, no body.
        connection = http.client.HTTPConnection("127.0.0.1", flowd.port, timeout=10)
        connection.request("HEAD", "/healthz")
        response = connection.getresponse()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.getheader("Content-Length"), str(len(json.dumps({"status": "ok"}, separators=(",", ":")))))
        self.assertEqual(response.read(), b"")
        connection.request("GET", "/healthz")  # the same connection still works after it
        self.assertEqual(json.loads(connection.getresponse().read()), {"status": "ok"})
        connection.close()
        # 405 names the methods the route takes.
        for method, path, allowed in [("DELETE", "/healthz", "GET, HEAD"), ("GET", "/v1/events", "POST"),
                                      ("PUT", "/v1/instances", "GET, HEAD"), ("GET", "/v1/outbox/x/retry", "POST"),
                                      ("POST", "/v1/outbox/x", "GET, HEAD, DELETE")]:
            connection = http.client.HTTPConnection("127.0.0.1", flowd.port, timeout=10)
            connection.request(method, path, headers={"Authorization": "Bearer s3cret"})
            response = connection.getresponse()
            response.read()
            self.assertEqual((response.status, response.getheader("Allow")), (405, allowed), (method, path))
            connection.close()
        # The auth scheme is case-insensitive; the token is not.
        for given, status in [("bearer s3cret", 200), ("BEARER  s3cret", 200), ("Bearer S3CRET", 401), ("Bearers3cret", 401),
                              ("Basic s3cret", 401)]:
            self.assertEqual(flowd.request("GET", "/v1/workflows", headers={"Authorization": given})[0], status, given)
        # Empty query values filter nothing; an unknown status is refused.
        auth = {"Authorization": "Bearer s3cret"}
        self.assertEqual(flowd.post_event({"id": "q1", "type": "Start", "data": {"id": "q1", "n": 1}})[0], 202)
        status, body = flowd.request("GET", "/v1/instances?workflow=&status=&key=&limit=&after=", headers=auth)
        self.assertEqual((status, len(body["instances"])), (200, 1), body)
        self.assertEqual(flowd.request("GET", "/v1/outbox?status=&limit=", headers=auth)[0], 200)
        status, body = flowd.request("GET", "/v1/instances?status=bogus", headers=auth)
        self.assertEqual(status, 400, body)
        self.assertIn("running, completed, failed or cancelled", body["error"])
        # A request target in absolute form is served like its path.
        answer = self.raw_exchange(flowd, b"GET http://flowd.example/healthz HTTP/1.1\r\nHost: flowd.example\r\n"
                                          b"Connection: close\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 200"), answer)
        # What is not HTTP gets 400 and the connection closes; nothing is stored.
        answer = self.raw_exchange(flowd, b"GARBAGE\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 400"), answer)
        self.assertIn("Connection: close", answer)
        answer = self.raw_exchange(flowd, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                          b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 400"), answer)
        self.assertEqual(len(flowd.request("GET", "/v1/instances", headers=auth)[1]["instances"]), 1)

    def test_a_request_whose_framing_or_host_is_wrong_is_refused_and_its_connection_closed(self):
        flowd = self.start()
        self.assertEqual(flowd.post_event({"id": "f1", "type": "Start", "data": {"id": "f1", "n": 1}})[0], 202)
        instance = flowd.instances()[0]["id"]
        cancel = f"POST /v1/instances/{instance}/cancel HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
        # A body whose end is unknown (the last coding is not chunked) must not be read as the
        # next request: here it would cancel the instance.
        for coding in [b"gzip", b"xchunked", b"chunked, gzip", b"identity", b"chunked, chunked"]:
            answer = self.raw_exchange(flowd, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding +
                                              b"\r\n\r\n" + cancel)
            self.assertTrue(answer.startswith("HTTP/1.1 400"), (coding, answer))
            self.assertIn("Connection: close", answer)
            self.assertNotIn("HTTP/1.1 200", answer, coding)
        # Chunked after another coding is framed, but the other coding is not implemented.
        answer = self.raw_exchange(flowd, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                                          b"0\r\n\r\n" + cancel)
        self.assertTrue(answer.startswith("HTTP/1.1 501"), answer)
        self.assertNotIn("HTTP/1.1 200", answer)
        self.assertEqual(self.state_of(instance)["status"], "running")
        # HTTP/1.1 needs exactly one Host, and it is host[:port].
        for host_lines in [b"", b"Host: a\r\nHost: a\r\n", b"Host: a b/c\r\n", b"Host: user@a\r\n"]:
            answer = self.raw_exchange(flowd, b"GET /healthz HTTP/1.1\r\n" + host_lines + b"Connection: close\r\n\r\n")
            self.assertTrue(answer.startswith("HTTP/1.1 400"), (host_lines, answer))
        for host_lines in [b"Host: flowd.example:8080\r\n", b"Host: [::1]:80\r\n", b"Host:\r\n"]:
            answer = self.raw_exchange(flowd, b"GET /healthz HTTP/1.1\r\n" + host_lines + b"Connection: close\r\n\r\n")
            self.assertTrue(answer.startswith("HTTP/1.1 200"), (host_lines, answer))
        self.assertTrue(self.raw_exchange(flowd, b"GET /healthz HTTP/1.0\r\n\r\n").startswith("HTTP/1.0 200"))
        # A chunked body is still read.
        body = json.dumps({"id": "f2", "type": "Start", "data": {"id": "f2", "n": 1}}).encode()
        answer = self.raw_exchange(flowd, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                          b"Transfer-Encoding: Chunked\r\nConnection: close\r\n\r\n" +
                                          f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 202"), answer)
        self.assertEqual(len(flowd.instances()), 2)

    def test_chunk_lines_and_trailers_are_bounded_and_trailers_are_not_headers(self):
        flowd = self.start(admin_token="s3cret")
        # A trailer field past what Beast holds (64 KiB) once killed the process; a chunk line that
        # never ends was buffered without a bound. Both are refused, and the server goes on.
        for tail in [b"0\r\nX: " + b"a" * 65534 + b"\r\n\r\n", b"1;" + b"a" * 200000]:
            answer = self.raw_exchange(flowd, b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + tail)
            self.assertTrue(answer.startswith("HTTP/1.1 400"), answer[:200])
            self.assertIn("longer than", answer)
            self.assertEqual(flowd.request("GET", "/healthz")[0], 200)
        # A trailer is not a header: a token, or CloudEvents attributes, sent after the body count for nothing.
        answer = self.raw_exchange(flowd, b"GET /v1/workflows HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                          b"Connection: close\r\n\r\n0\r\nAuthorization: Bearer s3cret\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 401"), answer)
        data = json.dumps({"id": "tr", "n": 1}).encode()
        answer = self.raw_exchange(flowd, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                          b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                                          f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\nce-specversion: 1.0\r\n"
                                          b"ce-id: tr1\r\nce-type: Start\r\nce-source: /t\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 400"), answer)  # read as a plain event, which has no id
        self.assertEqual(flowd.request("GET", "/v1/instances", headers={"Authorization": "Bearer s3cret"})[1]["instances"], [])

    def test_a_line_ending_in_a_bare_lf_is_refused_at_once(self):
        # HTTP/1.1 ends the lines of a header, a chunk and a trailer in CRLF. Beast looks for CRLF
        # alone, so a line ended by a bare LF used to wait for its deadline: the header's (closed
        # with no answer) or the body's (408). Now it is a 400 as soon as it has arrived.
        flowd = self.start()
        event = json.dumps({"id": "lf", "type": "Start", "data": {"id": "lf", "n": 1}}).encode()
        post = b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        for raw in [b"GET /healthz HTTP/1.1\r\nHost: x\r\n\n",
                    b"GET /healthz HTTP/1.1\nHost: x\n\n",  # was "bad version"
                    b"GET /healthz HTTP/1.1\r\nHost: x\nAccept: */*\r\n\r\n",  # was "bad value"
                    post + f"{len(event):x}\n".encode() + event + b"\n0\n\n",
                    post + f"{len(event):x}\r\n".encode() + event + b"\r\n0\n",
                    post + f"{len(event):x}\r\n".encode() + event + b"\r\n0\r\nX-Trailer: 1\n"]:
            answer = self.raw_exchange(flowd, raw)  # its socket waits 5 s, not the 10 s and 30 s deadlines
            self.assertTrue(answer.startswith("HTTP/1.1 400"), (raw, answer))
            self.assertIn("bad line ending", answer)
            self.assertIn("Connection: close", answer)
        # A control character in a chunk extension (a token or a quoted string has none): refused
        # however the bytes are split (Beast reads a quoted one whole, LF included, when it comes
        # in one piece).
        for extension, fault in [(b'3;a="x\ny"', "bad line ending"), (b'3;a="x\x01y"', "bad chunk extension"),
                                 (b"3;a\x7f", "bad chunk extension")]:
            answer = self.raw_exchange(flowd, post + extension + b"\r\n{}\n\r\n0\r\n\r\n")
            self.assertTrue(answer.startswith("HTTP/1.1 400"), (extension, answer))
            self.assertIn(fault, answer)
        answer = self.raw_exchange(flowd, post.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") +
                                   f"{len(event):x};a=\"x\ty\";b=c\r\n".encode() + event + b"\r\n0\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 202"), answer)  # HTAB is allowed in a quoted string
        self.assertEqual(flowd.request("POST", f"/v1/instances/{flowd.instances()[0]['id']}/cancel")[0], 200)
        # Other faults keep their own answers, the LF in what follows them notwithstanding.
        answer = self.raw_exchange(flowd, post + b"zz\r\n{\n}\r\n0\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 400"), answer)
        self.assertIn("bad chunk", answer)
        answer = self.raw_exchange(flowd, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n{\n")
        self.assertTrue(answer.startswith("HTTP/1.1 413"), answer)
        self.assertEqual([i["status"] for i in flowd.instances()], ["cancelled"])
        # What is not a line is not held to it: an LF inside a chunk's data, and a request sent a
        # byte at a time, CR and LF apart, after empty lines ended by bare LFs.
        data = json.dumps({"id": "lf2", "type": "Start", "data": {"id": "lf2", "n": 1}}, indent=1).encode()
        self.assertIn(b"\n", data)
        raw = (b"\n\r\n" + post.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") +
               f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\nX-Trailer: 1\r\n\r\n")
        with socket.create_connection(("127.0.0.1", flowd.port), timeout=5) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(raw)):
                s.sendall(raw[i:i + 1])
                time.sleep(0.001)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 202"), answer)
        self.assertEqual(sorted(i["key"] for i in flowd.instances()), ["lf", "lf2"])

    def test_http_1_0_framing_interim_answers_empty_lines_and_head_refusals(self):
        flowd = self.start()
        # HTTP/1.0 has no Transfer-Encoding: faulty framing, refused, and the rest is not read.
        answer = self.raw_exchange(flowd, b"POST /v1/events HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
                                          b"2\r\n{}\r\n0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.0 400"), answer)
        self.assertNotIn("HTTP/1.0 200", answer)
        # No 100 Continue for HTTP/1.0.
        body = json.dumps({"id": "e10", "type": "Start", "data": {"id": "e10", "n": 1}}).encode()
        answer = self.raw_exchange(flowd, b"POST /v1/events HTTP/1.0\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                                          b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.assertTrue(answer.startswith("HTTP/1.0 202"), answer)
        # Empty lines before a request line are passed over, sent with the request or after it.
        answer = self.raw_exchange(flowd, b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 200"), answer)
        with socket.create_connection(("127.0.0.1", flowd.port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))
            s.sendall(b"\r\n")
            time.sleep(0.2)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))
        # A tab before the media type's parameters is white space: this is structured mode, and a
        # structured CloudEvent without its specversion is refused, not read as a plain event.
        plain = json.dumps({"id": "tab1", "type": "Start", "data": {"id": "tab1", "n": 1}}).encode()
        answer = self.raw_exchange(flowd, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                          b"Content-Type: application/cloudevents+json\t;charset=utf-8\r\n"
                                          b"Content-Length: " + str(len(plain)).encode() + b"\r\n\r\n" + plain)
        self.assertTrue(answer.startswith("HTTP/1.1 400"), answer)
        self.assertIn("specversion", answer)
        # A HEAD refused from its Content-Length alone has no body either.
        answer = self.raw_exchange(flowd, b"HEAD /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 413"), answer)
        self.assertEqual(answer.partition("\r\n\r\n")[2], "")
        # A refusal of a HEAD request has no body, only its length.
        answer = self.raw_exchange(flowd, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 400"), answer)
        head, _, rest = answer.partition("\r\n\r\n")
        self.assertEqual(rest, "")
        self.assertNotIn("Content-Length: 0\r\n", head + "\r\n")
        # So does one refused while its header was being read, once its request line was: before,
        # these carried their JSON body after the header.
        for request, status in [(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "400"),
                                (b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", "400"),
                                (b"HEAD /healthz HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", "400"),
                                (b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", "431")]:
            answer = self.raw_exchange(flowd, request)
            self.assertTrue(answer.startswith("HTTP/1.1 " + status), answer)
            head, _, rest = answer.partition("\r\n\r\n")
            self.assertEqual(rest, "", answer)
            self.assertRegex(head, r"Content-Length: [1-9]")

    def test_out_of_file_descriptors_the_server_waits_instead_of_spinning_and_recovers(self):
        # Sanitizer runtimes probe memory through a pipe of their own: with no descriptor left they
        # report a false error and stop the process, so this runs on builds without them.
        linked = subprocess.run(["ldd", FLOWD], capture_output=True, text=True).stdout
        if "libubsan" in linked or "libasan" in linked:
            self.skipTest("a sanitized build cannot run out of file descriptors")
        # A soft and hard limit of 96 descriptors, and the default cap of 1024 connections.
        wrapper = os.path.join(self.dir, "flowd-few-files")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nulimit -n 96\nexec {FLOWD} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        path = write_config(os.path.join(self.dir, "config.json"), targets={"sink": {"url": "http://127.0.0.1:9/"}})
        self.flowd = flowd = Flowd(wrapper, [self.flows], os.path.join(self.dir, "flow.db"), path).start()
        self.assertTrue(any("open file limit" in line for line in flowd.log), "".join(flowd.log))
        held = []
        for _ in range(120):  # more than the descriptors left: the last ones wait in the listen queue
            held.append(socket.create_connection(("127.0.0.1", flowd.port)))
        time.sleep(0.5)

        def cpu_seconds():
            with open(f"/proc/{flowd.process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        before = cpu_seconds()
        time.sleep(2)
        self.assertLess(cpu_seconds() - before, 0.5)  # an accept loop retrying at once burns the whole 2 s
        for s in held[:40]:
            s.close()
        waiting = held[-1]  # accepted once descriptors are free again
        waiting.settimeout(10)
        waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(waiting.recv(4096).startswith(b"HTTP/1.1 200"))
        for s in held[40:]:
            s.close()

    def test_empty_lines_do_not_put_off_the_header_deadline(self):
        flowd = self.start(header_timeout_ms=1000)
        with socket.create_connection(("127.0.0.1", flowd.port), timeout=10) as s:
            started = time.monotonic()
            closed_at = None
            for _ in range(8):  # two empty lines every 0.4 s, for 3.2 s, until the server ends it
                try:
                    s.sendall(b"\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    closed_at = time.monotonic() - started
                    break
                readable, _, _ = select.select([s], [], [], 0.4)
                if readable:  # the server answered or closed: either way it ended the wait
                    closed_at = time.monotonic() - started
                    break
            self.assertIsNotNone(closed_at, "the empty lines kept the connection open for 3.2 s")
            self.assertLess(closed_at, 2.0)  # the deadline is 1 s from the connection's start

    def test_a_stop_does_not_wait_for_idle_kept_alive_connections(self):
        flowd = self.start(header_timeout_ms=60000)
        idle = socket.create_connection(("127.0.0.1", flowd.port), timeout=10)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(idle.recv(4096).startswith(b"HTTP/1.1 200"))  # and the connection stays open
        started = time.time()
        self.assertEqual(flowd.stop(), 0)
        self.assertLess(time.time() - started, 5)  # not the 10 s a request in progress may take
        idle.close()

    def test_flowd_help(self):
        result = subprocess.run([FLOWD, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("--flows PATH", result.stdout)
        self.assertIn("--target NAME=URL", result.stdout)

    def test_flowd_version_names_the_release_and_sqlite_and_the_log_and_metrics_say_it(self):
        result = subprocess.run([FLOWD, "--version"], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        match = re.fullmatch(r"flowd (\d+\.\d+\.\d+) \(Flow language 1, SQLite 3\.\d+\.\d+\)\n", result.stdout)
        self.assertIsNotNone(match, result.stdout)
        self.assertEqual(result.stderr, "")
        flowd = self.start()
        listening = [json.loads(line) for line in flowd.log if '"flowd is listening"' in line]
        self.assertEqual(listening[0]["version"], match.group(1))
        status, metrics = flowd.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertRegex(metrics if isinstance(metrics, str) else metrics.decode(),
                         r'\nflow_build_info\{version="' + re.escape(match.group(1)) + r'",sqlite="3\.\d+\.\d+"\} 1\n')

    def self_signed_certificate(self, name, address="127.0.0.1"):
        """A certificate for the address and its key, as PEM files: (certificate, key)."""
        cert, key = os.path.join(self.dir, name + "-cert.pem"), os.path.join(self.dir, name + "-key.pem")
        made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                               "-days", "1", "-subj", "/CN=" + address, "-addext", "subjectAltName=IP:" + address],
                              capture_output=True, text=True)
        self.assertEqual(made.returncode, 0, made.stderr)
        return cert, key

    def test_tls_when_a_certificate_is_configured(self):
        import ssl
        cert, key = self.self_signed_certificate("flowd")
        flowd = self.start(tls={"certificate": cert, "private_key": key}, header_timeout_ms=1000)
        self.assertIn('"tls":true', "".join(flowd.log))
        context = ssl.create_default_context(cafile=cert)  # verifies the certificate and the address
        connection = http.client.HTTPSConnection("127.0.0.1", flowd.port, context=context, timeout=10)
        for n in range(2):  # two requests on one kept-alive TLS connection
            event = {"id": f"tls-{n}", "type": "Start", "data": {"id": f"tls-{n}", "n": n}}
            connection.request("POST", "/v1/events", body=json.dumps(event), headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            self.assertEqual(response.status, 202)
            self.assertEqual(json.loads(response.read())["deliveries"][0]["outcome"], "started")
        connection.close()
        # Plain HTTP on the TLS port gets no answer: the handshake fails and the connection closes.
        plain = socket.create_connection(("127.0.0.1", flowd.port), timeout=10)
        plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertNotIn(b"HTTP/1.1 200", plain.recv(1000))
        plain.close()
        # A client that never starts the handshake is cut off at the header deadline.
        silent = socket.create_connection(("127.0.0.1", flowd.port), timeout=10)
        started = time.time()
        self.assertEqual(silent.recv(100), b"")
        self.assertLess(time.time() - started, 5)
        silent.close()
        # A certificate that cannot be read stops the start with a message.
        path = write_config(os.path.join(self.dir, "bad.json"), targets={"sink": {"url": self.receiver.url("sink")}},
                            tls={"certificate": os.path.join(self.dir, "missing.pem"), "private_key": key})
        done = subprocess.run([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "other.db"), "--listen",
                               "127.0.0.1:0", "--config", path], capture_output=True, text=True, timeout=20)
        self.assertEqual(done.returncode, 2)
        self.assertIn("cannot use the TLS certificate", done.stderr)
        # The configuration is read before the flows compile: a mistake in it is told first,
        # without waiting for the compiler (it used to come after the diagnostics, exit 1).
        broken = os.path.join(self.dir, "broken.flow")
        with open(broken, "w") as f:
            f.write("workflow {\n")
        done = subprocess.run([FLOWD, "--flows", broken, "--db", os.path.join(self.dir, "other.db"), "--listen",
                               "127.0.0.1:0", "--config", path], capture_output=True, text=True, timeout=20)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("cannot use the TLS certificate", done.stderr)
        self.assertNotIn("error:", done.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "other.db")))

    def test_a_slow_client_is_cut_off_at_the_header_deadline(self):
        flowd = self.start(header_timeout_ms=500)
        slow = socket.create_connection(("127.0.0.1", flowd.port))
        slow.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        started = time.time()
        slow.settimeout(10)
        self.assertEqual(slow.recv(100), b"")  # closed by the header deadline
        self.assertLess(time.time() - started, 5)
        slow.close()

    def test_a_body_over_the_limit_is_refused_from_its_length_before_it_is_sent(self):
        flowd = self.start(max_body_bytes=1000)
        client = socket.create_connection(("127.0.0.1", flowd.port))
        client.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 1001\r\n\r\n")  # the header alone: no byte of the body
        client.settimeout(10)
        answer = b""
        while True:
            chunk = client.recv(4096)
            if not chunk:
                break  # and then the connection is closed
            answer += chunk
        client.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer)
        self.assertIn(b"Connection: close", answer)
        self.assertIn(b"the body is larger than 1000 bytes", answer)

    def test_the_body_limit_is_inclusive_for_both_framings(self):
        limit = 1000
        flowd = self.start(max_body_bytes=limit)

        def padded(event_id, size):
            body = json.dumps({"id": event_id, "type": "Start", "data": {"id": event_id, "n": 1}})
            return (body + " " * (size - len(body))).encode()  # white space after the JSON is JSON

        def chunked(body):
            connection = http.client.HTTPConnection("127.0.0.1", flowd.port, timeout=10)
            connection.request("POST", "/v1/events", body=iter([body[:300], body[300:]]),
                               headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"}, encode_chunked=True)
            response = connection.getresponse()
            status = response.status
            connection.close()
            return status

        self.assertEqual(flowd.post_event(padded("at-limit", limit))[0], 202)
        self.assertEqual(flowd.post_event(padded("past-limit", limit + 1))[0], 413)
        self.assertEqual(chunked(padded("chunked-at-limit", limit)), 202)
        self.assertEqual(chunked(padded("chunked-past-limit", limit + 1)), 413)
        self.assertEqual(sorted(i["key"] for i in flowd.instances()), ["at-limit", "chunked-at-limit"])
        # The server refuses these before the route reads them; they count all the same, as do
        # framings it refuses, but not a refusal on another route.
        self.assertEqual(flowd.request("POST", "/v1/instances", b" " * (limit + 1))[0], 413)
        with socket.create_connection(("127.0.0.1", flowd.port), timeout=10) as raw:
            raw.sendall(b"POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            self.assertTrue(raw.recv(65536).startswith(b"HTTP/1.1 400 "))
        metrics = flowd.request("GET", "/metrics")[1]
        self.assertIn('flow_events_total{outcome="rejected_413"} 2\n', metrics)
        self.assertIn('flow_events_total{outcome="rejected_400"} 1\n', metrics)

    def test_refusals_come_in_order_413_then_401_then_400_then_422(self):
        flowd = self.start(webhook_secrets=[SECRET], max_body_bytes=1000)
        # Too large and unsigned: 413, before the signature is looked at.
        self.assertEqual(flowd.post_event(b" " * 1001)[0], 413)
        # Unsigned and not JSON: 401.
        self.assertEqual(flowd.post_event(b"not json")[0], 401)

        def signed(body, msg_id):
            now = int(time.time())
            return flowd.post_event(body, {"webhook-id": msg_id, "webhook-timestamp": str(now),
                                           "webhook-signature": sign(SECRET, msg_id, now, body)})

        # Signed: an unknown type with a time that is not one is a 400 (what the event is) before a 422 (what it means).
        status, body = signed(json.dumps({"id": "o2", "type": "Nope", "time": "yesterday", "data": {}}), "msg-o2")
        self.assertEqual(status, 400, body)
        self.assertIn("time", body["error"])
        status, body = signed(json.dumps({"id": "o3", "type": "Nope", "data": {}}), "msg-o3")
        self.assertEqual(status, 422, body)
        self.assertEqual(flowd.instances(), [])

    def test_a_body_that_does_not_arrive_in_time_gets_408_and_changes_nothing(self):
        flowd = self.start(body_timeout_ms=500)
        slow = socket.create_connection(("127.0.0.1", flowd.port))
        body = json.dumps({"id": "late", "type": "Start", "data": {"id": "late", "n": 1}}).encode()
        slow.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])  # and never the rest
        started = time.time()
        slow.settimeout(10)
        answer = b""
        while True:
            chunk = slow.recv(4096)
            if not chunk:
                break
            answer += chunk
        self.assertLess(time.time() - started, 5)
        self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer)
        self.assertIn(b"the body did not arrive in time", answer)
        self.assertIn(b"Connection: close", answer)
        slow.close()
        # Nothing was accepted, and flowd goes on serving.
        self.assertEqual(flowd.request("GET", "/v1/instances")[1]["instances"], [])
        self.assertEqual(flowd.post_event({"id": "late", "type": "Start", "data": {"id": "late", "n": 1}})[0], 202)

    def test_connections_over_the_cap_get_503(self):
        flowd = self.start(max_connections=4)
        idle = [socket.create_connection(("127.0.0.1", flowd.port)) for _ in range(4)]
        refused = 0
        extras = []
        for _ in range(20):  # the server may take a moment to accept the four
            # A request sent at once, unread when the 503 goes out: the answer must still arrive
            # (closing with unread data would reset the connection and lose it).
            extra = socket.create_connection(("127.0.0.1", flowd.port))
            extras.append(extra)
            extra.settimeout(2)
            time.sleep(0.05)  # the server has accepted it by now
            try:
                extra.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n" + b"x" * 300)
                time.sleep(0.05)  # and read the request, or closed without reading it
                if b" 503 " in extra.recv(200):
                    refused += 1
            except (socket.timeout, ConnectionResetError, BrokenPipeError):
                pass
        self.assertGreaterEqual(refused, 15)
        # A burst of connections over the cap is refused without taking a descriptor each for
        # the time their answers take: at most 64 answers are under way at once.
        burst = [socket.create_connection(("127.0.0.1", flowd.port)) for _ in range(300)]
        time.sleep(0.3)
        self.assertLess(len(os.listdir(f"/proc/{flowd.process.pid}/fd")), 150)
        for s in burst:
            s.close()
        for s in idle + extras:
            s.close()
        flowd.wait_for(lambda: flowd.request("GET", "/healthz")[0] == 200, what="a free connection")

    # ---- the relay ---------------------------------------------------------------------

    def test_commands_over_https_are_verified_and_delivered(self):
        cert, key = self.self_signed_certificate("target")
        self.receiver = Receiver(tls=(cert, key))
        self.assertTrue(self.receiver.url("sink").startswith("https://"))
        retry = {"max_attempts": 50, "initial_backoff_ms": 50, "max_backoff_ms": 100}
        # The certificate is self-signed: trusted by no system authority, so it is refused...
        flowd = self.start(retry=retry)
        self.assertEqual(flowd.post_event({"id": "s1", "type": "Start", "data": {"id": "s1", "n": 1}})[0], 202)
        def refused(reason):
            pending = flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"]
            return pending and pending[0]["last_error"] and re.search(reason, pending[0]["last_error"]) and pending
        # last_error says why: OpenSSL's reason for the chain, or the name the certificate lacks.
        pending = flowd.wait_for(lambda: refused("certificate verify failed.*: self.signed certificate"),
                                 what="the certificate to be refused")
        self.assertEqual(self.receiver.commands(), [])
        self.assertEqual(flowd.stop(), 0)
        # ... and once the target's authority is configured, the waiting commands are delivered.
        target = {"url": self.receiver.url("sink"), "ca_file": cert, "timeout_ms": 1000, "retry": retry}
        flowd = self.start(targets={"sink": target})
        commands = flowd.wait_for(lambda: len(self.receiver.commands()) >= 2 and self.receiver.commands(), what="delivery")
        self.assertEqual([c["type"] for c in commands], ["First", "Second"])
        self.assertEqual({c["id"] for c in commands} >= {p["id"] for p in pending}, True)
        # An empty ca_file names no file: refused at start. (One that cannot be read fails each
        # delivery instead, retried, as above for a certificate refused.)
        self.assertEqual(flowd.stop(), 0)
        config = write_config(os.path.join(self.dir, "bad.json"),
                              targets={"sink": {"url": self.receiver.url("sink"), "ca_file": ""}})
        result = subprocess.run([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "bad.db"), "--config", config],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("targets.sink.ca_file must be a file name", result.stderr)
        # A certificate the authority vouches for, but for another address, is refused for its name.
        other_cert, other_key = self.self_signed_certificate("other", address="127.0.0.2")
        self.receiver.close()
        self.receiver = Receiver(tls=(other_cert, other_key))
        flowd = self.start(targets={"sink": {"url": self.receiver.url("sink"), "ca_file": other_cert, "retry": retry}})
        self.assertEqual(flowd.post_event({"id": "s2", "type": "Start", "data": {"id": "s2", "n": 1}})[0], 202)
        flowd.wait_for(lambda: refused("certificate verify failed.*: the certificate is not for 127.0.0.1"),
                       what="the name to be refused")
        self.assertEqual(self.receiver.commands(), [])
        self.assertEqual(flowd.stop(), 0)
        # The same ca_file on a target that --target moves to http:// would be a check that never runs.
        config = write_config(os.path.join(self.dir, "moved.json"),
                              targets={"sink": {"url": self.receiver.url("sink"), "ca_file": other_cert}})
        result = subprocess.run([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "moved.db"), "--config", config,
                                 "--target", "sink=http://127.0.0.1:9/x"], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("the config's ca_file of sink is for an https:// target", result.stderr)

    def test_commands_to_a_target_with_a_secret_are_signed(self):
        self.receiver = Receiver()
        target = {"url": self.receiver.url("sink"), "secret": SECRET}
        flowd = self.start(targets={"sink": target})
        flowd.post_event({"id": "sig", "type": "Start", "data": {"id": "sig", "n": 1}})
        flowd.wait_for(lambda: len(self.receiver.received) >= 2, what="signed commands")
        for r in self.receiver.received:
            h = {k.lower(): v for k, v in r["headers"].items()}
            body = json.dumps(r["command"], separators=(",", ":"))
            self.assertEqual(h["webhook-id"], r["command"]["id"])
            self.assertLess(abs(int(h["webhook-timestamp"]) - time.time()), 60)
            self.assertEqual(h["webhook-signature"], sign(SECRET, h["webhook-id"], h["webhook-timestamp"], body))

    def test_retries_dead_letters_and_retry_from_dead(self):
        mode = {"first": "flaky"}

        def behaviour(path, command, attempt):
            if command["type"] == "First":
                if mode["first"] == "flaky":
                    return (500, {}) if attempt < 3 else (200, {})
                return (400, {}) if mode["first"] == "reject" else (200, {})
            return 200, {}

        flowd = self.start(behaviour)
        flowd.post_event({"id": "r1", "type": "Start", "data": {"id": "r1", "n": 1}})
        flowd.wait_for(lambda: len(self.receiver.commands()) >= 4, what="three tries and the second command")
        types = [c["type"] for c in self.receiver.commands()]
        self.assertEqual(types[:4], ["First", "First", "First", "Second"])  # Second waits for First
        ids = {c["id"] for c in self.receiver.commands() if c["type"] == "First"}
        self.assertEqual(len(ids), 1)  # one id across retries
        mode["first"] = "reject"
        flowd.post_event({"id": "r2", "type": "Start", "data": {"id": "r2", "n": 1}})
        dead = flowd.wait_for(lambda: flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"], what="a dead letter")
        self.assertEqual(dead[0]["type"], "First")
        self.assertIn("HTTP 400", dead[0]["last_error"])
        # Second of r2 is not held back by a dead First.
        flowd.wait_for(lambda: sum(1 for c in self.receiver.commands() if c["type"] == "Second") >= 2, what="Second after dead")
        # The target accepts before the retry: the relay may send the command again at once.
        mode["first"] = "ok"
        self.assertEqual(flowd.request("POST", f"/v1/outbox/{dead[0]['id']}/retry")[0], 200)
        self.assertEqual(flowd.request("POST", f"/v1/outbox/{dead[0]['id']}/retry")[0], 409)
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"] and
                       not flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"], what="the retried command")

    def test_a_dead_command_retried_waits_while_a_later_one_of_its_instance_is_being_sent(self):
        # First is refused (dead), so Second goes; while the target holds Second, First is
        # retried. It was sent at once, beside Second: two commands of one instance at a time.
        spans = []  # (type, start, end) of each request
        second_held = threading.Event()
        mode = {"first": 400}

        def behaviour(path, command, attempt):
            start = time.monotonic()
            if command["type"] == "Second" and attempt == 1:
                second_held.set()
                time.sleep(0.8)
            status = mode["first"] if command["type"] == "First" else 200
            spans.append((command["type"], start, time.monotonic()))
            return status, {}

        flowd = self.start(behaviour, retry={"max_attempts": 4, "initial_backoff_ms": 50, "max_backoff_ms": 200})
        flowd.post_event({"id": "w1", "type": "Start", "data": {"id": "w1", "n": 1}})
        self.assertTrue(second_held.wait(10), "Second was not sent")
        dead = flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"]
        self.assertEqual([c["type"] for c in dead], ["First"])
        mode["first"] = 200
        self.assertEqual(flowd.request("POST", f"/v1/outbox/{dead[0]['id']}/retry")[0], 200)
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"] and
                       len(spans) == 3, what="both delivered")
        (_, _, second_ended), = [span for span in spans if span[0] == "Second"]
        first_again = [start for kind, start, _ in spans if kind == "First"][1]
        self.assertGreaterEqual(first_again, second_ended, f"First sent again while Second was being sent: {spans}")

    def test_a_long_queue_of_one_instance_arrives_in_emit_order_across_a_restart(self):
        # Each step of one instance emits a command: all but the first wait behind the one before,
        # and each is made due when the one before is delivered, through a stop and a start too.
        queue = os.path.join(self.dir, "queue")
        os.mkdir(queue)
        with open(os.path.join(queue, "queue.flow"), "w") as f:
            f.write("event Opened { id: string }\nevent Stepped { id: string, n: int }\n"
                    "command Record to sink { id: string, n: int }\nworkflow Queue {\n  key id: string\n"
                    "  start on Opened { goto Open }\n  state Open { on Stepped as s { emit Record { id: key, n: s.n } } }\n}\n")
        flowd = self.start(lambda path, command, attempt: (time.sleep(0.002), (200, {}))[1], flows=[queue])
        self.assertEqual(flowd.post_event({"id": "open", "type": "Opened", "data": {"id": "q"}})[0], 202)
        total = 400
        for first in range(0, total, 100):
            batch = [{"specversion": "1.0", "id": f"s{n}", "source": "/t", "type": "Stepped", "data": {"id": "q", "n": n}}
                     for n in range(first, first + 100)]
            status, body = flowd.request("POST", "/v1/events", json.dumps(batch),
                                         {"Content-Type": "application/cloudevents-batch+json"})
            self.assertEqual(status, 202, body)
        flowd.wait_for(lambda: len(self.receiver.commands()) >= 50, what="the queue under way")
        self.assertEqual(flowd.stop(signal.SIGTERM), 0)
        flowd = self.start(flows=[queue])
        flowd.wait_for(lambda: {c["data"]["n"] for c in self.receiver.commands()} >= set(range(total)), timeout=60,
                       what="the whole queue")
        arrived = [c["data"]["n"] for c in self.receiver.commands()]
        # At least once, in order: a command cut off by the stop may come again, never one before it.
        firsts = [n for i, n in enumerate(arrived) if n not in arrived[:i]]
        self.assertEqual(firsts, list(range(total)))
        self.assertTrue(all(later >= earlier - 1 for earlier, later in zip(arrived, arrived[1:])), arrived)
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"], what="no command pending")

    def test_a_dead_command_is_shown_on_its_own_page_and_deleted_with_a_trace_in_its_instance(self):
        # The target refuses the first command for good; the instance completes meanwhile.
        flowd = self.start(lambda path, command, attempt: (400, {}) if command["type"] == "First" else (200, {}))
        status, body = flowd.post_event({"id": "d1", "type": "Start", "data": {"id": "d1", "n": 1}})
        self.assertEqual(status, 202, body)
        instance = body["deliveries"][0]["instance"]
        for n in (1, 2):
            self.assertEqual(flowd.post_event({"id": f"d-poke-{n}", "type": "Poke", "data": {"id": "d1"}})[0], 202)
        dead = flowd.wait_for(lambda: flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"], what="a dead command")
        command = dead[0]["id"]
        status, page = flowd.request("GET", f"/v1/outbox/{command}")
        self.assertEqual(status, 200, page)
        self.assertEqual((page["status"], page["type"], page["instance"], page["key"], page["data"]),
                         ("dead", "First", instance, "d1", {"id": "d1", "n": 1}))
        self.assertIn("HTTP 400", page["last_error"])
        self.assertIn('flow_outbox_commands{status="dead"} 1\n', flowd.request("GET", "/metrics")[1])
        self.assertEqual(flowd.request("DELETE", f"/v1/outbox/{command.upper()}"), (200, {"id": command, "status": "deleted"}))
        self.assertEqual(flowd.request("DELETE", f"/v1/outbox/{command}")[0], 404)
        self.assertEqual(flowd.request("GET", f"/v1/outbox/{command}")[0], 404)
        self.assertEqual(flowd.request("POST", f"/v1/outbox/{command}/retry")[0], 404)
        self.assertIn('flow_outbox_commands{status="dead"} 0\n', flowd.request("GET", "/metrics")[1])
        details = self.state_of(instance)
        self.assertEqual(details["status"], "completed")
        deleted = [h for h in details["history"] if h["kind"] == "command_deleted"]
        self.assertEqual(len(deleted), 1)
        self.assertEqual((deleted[0]["id"], deleted[0]["type"], deleted[0]["target"]), (command, "First", "sink"))
        self.assertEqual(details["history"][-1], deleted[0])  # written last, when it was deleted

    def test_after_an_outage_the_dead_commands_of_a_target_are_retried_page_by_page(self):
        mode = {"down": True}
        flowd = self.start(lambda path, command, attempt: (503, {}) if mode["down"] else (200, {}))
        for n in range(3):
            self.assertEqual(flowd.post_event({"id": f"o{n}", "type": "Start", "data": {"id": f"o{n}", "n": n}})[0], 202)
        # Each instance's First dies after its four attempts; its Second then dies too.
        flowd.wait_for(lambda: len(flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"]) == 6, what="six dead commands")
        mode["down"] = False
        self.assertEqual(flowd.request("POST", "/v1/outbox/retry?target=elsewhere"), (200, {"retried": 0, "next": None}))
        retried, pages, cursor = 0, 0, None
        while True:
            status, page = flowd.request("POST", "/v1/outbox/retry?target=sink&limit=4" + (f"&after={cursor}" if cursor else ""))
            self.assertEqual(status, 200, page)
            retried, pages, cursor = retried + page["retried"], pages + 1, page["next"]
            if cursor is None:
                break
        self.assertEqual((retried, pages), (6, 2))
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"] and
                       not flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"], what="every command delivered")
        self.assertEqual(len(flowd.request("GET", "/v1/outbox?status=delivered")[1]["commands"]), 6)

    def test_interim_answers_before_the_final_one_are_passed_over(self):
        flowd = self.start(lambda path, command, attempt: ("interim", {}))
        flowd.post_event({"id": "i1", "type": "Start", "data": {"id": "i1", "n": 1}})
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"], what="delivery")
        self.assertEqual(flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"], [])
        delivered = flowd.request("GET", "/v1/outbox?status=delivered")[1]["commands"]
        self.assertGreaterEqual(len(delivered), 2)
        self.assertTrue(all(c["attempts"] == 1 for c in delivered), delivered)

    def start_with_raw_target(self, serve, timeout_ms=1000, max_attempts=3):
        target = RawTarget(serve)
        self.addCleanup(target.close)
        flowd = self.start(targets={"sink": {"url": target.url("sink"), "timeout_ms": timeout_ms,
                                             "retry": {"max_attempts": max_attempts, "initial_backoff_ms": 50, "max_backoff_ms": 200}}})
        return flowd, target

    def outbox(self, flowd, status):
        return flowd.request("GET", f"/v1/outbox?status={status}")[1]["commands"]

    def test_interim_answers_without_end_are_a_timeout(self):
        def serve(target, connection):
            if target.read_request(connection) is None:
                return
            while not target.closed:  # 100 Continue, again and again without a pause, never a final answer
                connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" * 64)
        flowd, _ = self.start_with_raw_target(serve, timeout_ms=500, max_attempts=1)
        flowd.post_event({"id": "c1", "type": "Start", "data": {"id": "c1", "n": 1}})
        dead = flowd.wait_for(lambda: self.outbox(flowd, "dead"), what="the first command given up")
        self.assertEqual(dead[0]["last_error"], "timed out after 500 ms")

    def test_an_answer_counts_by_its_status_whatever_its_header_or_body_size(self):
        answers = {
            # A 2xx delivers with a large header, a body past 1 MiB, or a body that never ends.
            "big-header": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 9000 + b"\r\nContent-Length: 0\r\n\r\n",
            "big-body": b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 2000000,
            "endless": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"10000\r\n" + b"y" * 65536 + b"\r\n",
            # ... or a body that stops coming, is cut by the connection's close, or is malformed: the
            # target answered 2xx, so it has the command (these were retried, and so sent again).
            "stalled": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            "cut": b"HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\nshort",
            "bad-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
            # A 503 whose body stops coming is a 503: retried until the attempts run out.
            "stalled-503": b"HTTP/1.1 503 Busy\r\nContent-Length: 100\r\n\r\nbusy",
            # A connection closed before any answer is no answer: retried, and said so.
            "silent": b"",
            # A 400 with a large body is a 400: dead at once; so is a status of 000.
            "refused": b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2000000\r\n\r\n" + b"z" * 2000000,
            "zero": b"HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\nok",
        }

        def serve(target, connection):
            while (command := target.read_request(connection)) is not None:
                answer = answers[command["key"]]
                connection.sendall(answer)
                if command["key"] == "endless":
                    while not target.closed:
                        connection.sendall(b"10000\r\n" + b"y" * 65536 + b"\r\n")
                if command["key"] in ("cut", "silent"):
                    return
        flowd, target = self.start_with_raw_target(serve, max_attempts=3)
        for key in answers:
            flowd.post_event({"id": key, "type": "Start", "data": {"id": key, "n": 1}})
        flowd.wait_for(lambda: not self.outbox(flowd, "pending"), timeout=30, what="every command settled")
        settled = {}
        for status in ("delivered", "dead"):
            for command in self.outbox(flowd, status):
                key = flowd.request("GET", f"/v1/instances/{command['instance']}")[1]["key"]
                settled.setdefault(key, set()).add((status, command["attempts"]))
        for key in ("big-header", "big-body", "endless", "stalled", "cut", "bad-chunk"):
            self.assertEqual(settled[key], {("delivered", 1)}, key)
        for key in ("refused", "zero"):
            self.assertEqual(settled[key], {("dead", 1)}, key)
        self.assertEqual(settled["stalled-503"], {("dead", 3)})
        self.assertEqual(settled["silent"], {("dead", 3)})
        last_errors = {c["last_error"] for c in self.outbox(flowd, "dead")}
        self.assertIn("HTTP 503: busy", last_errors)
        self.assertIn(f"no answer from 127.0.0.1:{target.port}: end of stream", last_errors)

    def test_a_408_left_on_an_idle_kept_alive_connection_is_not_the_next_commands_answer(self):
        def serve(target, connection):
            connection.settimeout(0.3)
            while True:
                try:
                    if target.read_request(connection) is None:
                        return
                except socket.timeout:
                    # Idle: as some servers do, a 408 nobody asked for, then close.
                    connection.sendall(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                    time.sleep(0.3)
                    return
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        flowd, target = self.start_with_raw_target(serve, max_attempts=1)
        for i in range(4):
            flowd.post_event({"id": f"k{i}", "type": "Start", "data": {"id": f"k{i}", "n": 1}})
            time.sleep(0.45)  # the connection idles past the target's 0.3 s, and its 408 is waiting
        flowd.wait_for(lambda: not self.outbox(flowd, "pending"), what="every command settled")
        self.assertEqual(self.outbox(flowd, "dead"), [])
        self.assertEqual(len(self.outbox(flowd, "delivered")), 8)

    def restart_with_receiver(self):
        """Starts flowd again on the same database, its target now a plain receiver answering 200."""
        receiver = Receiver()
        self.addCleanup(receiver.close)
        path = write_config(os.path.join(self.dir, "config.json"),
                            targets={"sink": {"url": receiver.url("sink"), "retry": {"max_attempts": 1}}})
        self.flowd = Flowd(FLOWD, [self.flows], os.path.join(self.dir, "flow.db"), path).start()
        return self.flowd, receiver

    def test_a_stop_that_cuts_off_a_last_attempt_sends_it_again_after_the_restart(self):
        def serve(target, connection):
            if target.read_request(connection) is not None:
                time.sleep(30)  # answers nothing
        flowd, target = self.start_with_raw_target(serve, timeout_ms=20000, max_attempts=1)
        flowd.post_event({"id": "s1", "type": "Start", "data": {"id": "s1", "n": 1}})
        flowd.wait_for(lambda: target.bodies, what="the command sent")
        self.assertEqual(flowd.stop(), 0)
        flowd, receiver = self.restart_with_receiver()
        flowd.wait_for(lambda: len(receiver.commands()) == 2, what="both commands after the restart")
        self.assertEqual(receiver.commands()[0]["id"], target.bodies[0]["id"])  # the same command, the same id
        self.assertEqual(self.outbox(flowd, "dead"), [])

    def test_an_answer_begun_before_a_stop_counts_by_its_status(self):
        # The target answers 200 but its body never ends: flowd stops meanwhile. The 200 came, so
        # the command is delivered, not cut off and sent again after the restart (it was).
        def serve(target, connection):
            if target.read_request(connection) is not None:
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nst")
                time.sleep(30)
        flowd, target = self.start_with_raw_target(serve, timeout_ms=20000, max_attempts=1)
        flowd.post_event({"id": "b1", "type": "Start", "data": {"id": "b1", "n": 1}})
        flowd.wait_for(lambda: target.bodies, what="the command sent")
        time.sleep(0.3)  # the answer's header is read
        self.assertEqual(flowd.stop(), 0)
        flowd, receiver = self.restart_with_receiver()
        flowd.wait_for(lambda: any(c["type"] == "Second" for c in receiver.commands()), what="the second command after the restart")
        self.assertEqual([c["type"] for c in receiver.commands()], ["Second"])
        first = [c for c in self.outbox(flowd, "delivered") if c["id"] == target.bodies[0]["id"]]
        self.assertEqual([(c["status"], c["attempts"]) for c in first], [("delivered", 1)])

    def test_a_target_whose_name_does_not_resolve_is_retried_and_named_in_the_error(self):
        self.start(targets={"sink": {"url": "http://no-such-host.invalid:9/sink", "timeout_ms": 1000,
                                     "retry": {"max_attempts": 2, "initial_backoff_ms": 50, "max_backoff_ms": 100}}})
        flowd = self.flowd
        flowd.post_event({"id": "n1", "type": "Start", "data": {"id": "n1", "n": 1}})
        dead = flowd.wait_for(lambda: self.outbox(flowd, "dead"), what="the first command given up")
        self.assertEqual(dead[0]["attempts"], 2)
        self.assertTrue(dead[0]["last_error"].startswith("cannot resolve no-such-host.invalid: "), dead[0])

    def test_a_status_past_599_is_not_a_server_error_and_kills_the_command(self):
        flowd = self.start(lambda path, command, attempt: (600, {}) if command["type"] == "First" else (200, {}))
        flowd.post_event({"id": "x1", "type": "Start", "data": {"id": "x1", "n": 1}})
        dead = flowd.wait_for(lambda: flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"], what="a dead letter")
        self.assertEqual((dead[0]["type"], dead[0]["attempts"]), ("First", 1), dead)
        self.assertIn("HTTP 600", dead[0]["last_error"])

    def test_retry_after_and_timeouts_are_retried(self):
        first_attempts = []  # when First's attempts arrived

        def behaviour(path, command, attempt):
            if command["type"] == "First":
                first_attempts.append(time.monotonic())
                if attempt == 1:
                    return 429, {"Retry-After": "1"}
            if command["type"] == "Second" and attempt == 1:
                time.sleep(1.5)  # past the 1 s timeout
            return 200, {}

        # The backoff alone would retry after 50 ms (at most 5 s): the wait of a second between
        # First's attempts is the Retry-After's.
        flowd = self.start(behaviour, retry={"max_attempts": 4, "initial_backoff_ms": 50, "max_backoff_ms": 5000})
        flowd.post_event({"id": "t1", "type": "Start", "data": {"id": "t1", "n": 1}})
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"], timeout=20, what="delivery")
        attempts = [c["type"] for c in self.receiver.commands()]
        self.assertEqual(attempts.count("First"), 2)
        self.assertGreaterEqual(attempts.count("Second"), 2)
        self.assertEqual(len(first_attempts), 2)
        self.assertGreaterEqual(first_attempts[1] - first_attempts[0], 0.9)  # Retry-After was honoured

    def test_a_retry_is_not_held_back_by_the_commands_waiting_behind_it(self):
        # First is refused five times with a Retry-After of an hour, which is cut to the target's
        # max_backoff_ms (100 ms). Second, emitted with it, is due all along but waits behind it:
        # that must not hide First's retry time from the relay (it did: every retry came at the
        # relay's one-second poll instead).
        first_attempts = []

        def behaviour(path, command, attempt):
            if command["type"] == "First":
                first_attempts.append(time.monotonic())
                if attempt <= 5:
                    return 503, {"Retry-After": "3600"}
            return 200, {}

        flowd = self.start(behaviour, retry={"max_attempts": 8, "initial_backoff_ms": 50, "max_backoff_ms": 100})
        flowd.post_event({"id": "h1", "type": "Start", "data": {"id": "h1", "n": 1}})
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"], timeout=20, what="delivery")
        self.assertEqual(len(first_attempts), 6)
        gaps = [round(b - a, 3) for a, b in zip(first_attempts, first_attempts[1:])]
        self.assertLess(max(gaps), 0.6, f"seconds between First's attempts: {gaps}")
        self.assertEqual([c["type"] for c in self.receiver.commands()][-1], "Second")

    def test_expedite_sends_a_silent_targets_commands_at_once_once_it_answers_again(self):
        # First's attempt times out, so the target counts as silent and First waits a backoff of
        # 5 to 10 minutes (Second waits behind it). The target then answers again: the operator's
        # expedite makes First due now and lifts the silence, and both arrive within seconds.
        hanging = {"on": True}
        first_attempts = []

        def behaviour(path, command, attempt):
            if command["type"] == "First":
                first_attempts.append(time.monotonic())
            if hanging["on"]:
                time.sleep(1.5)  # past the 1 s timeout: no answer
            return 200, {}

        flowd = self.start(behaviour, retry={"max_attempts": 5, "initial_backoff_ms": 600000, "max_backoff_ms": 600000})
        flowd.post_event({"id": "x1", "type": "Start", "data": {"id": "x1", "n": 1}})
        flowd.wait_for(lambda: any(c["attempts"] == 1 for c in self.outbox(flowd, "pending")), what="First's first attempt ended")
        hanging["on"] = False
        status, body = flowd.request("POST", "/v1/outbox/expedite?target=sink")
        self.assertEqual((status, body), (200, {"expedited": 1, "more": False}))
        delivered = flowd.wait_for(lambda: len(self.outbox(flowd, "delivered")) == 2 and self.outbox(flowd, "delivered"),
                                   timeout=10, what="both commands delivered after the expedite")
        self.assertEqual(sorted(c["type"] for c in delivered), ["First", "Second"])
        self.assertEqual(len(first_attempts), 2)
        status, body = flowd.request("POST", "/v1/outbox/expedite?target=sink")
        self.assertEqual((status, body), (200, {"expedited": 0, "more": False}))

    def test_a_backoff_of_zero_retries_at_once(self):
        # The contract sets no range for the backoffs; zero is the fast retry a test wants.
        attempts = []

        def behaviour(path, command, attempt):
            attempts.append(time.monotonic())
            return (503, {"Retry-After": "3600"}) if attempt <= 4 else (200, {})

        flowd = self.start(behaviour, retry={"max_attempts": 6, "initial_backoff_ms": 0, "max_backoff_ms": 0})
        flowd.post_event({"id": "z1", "type": "Start", "data": {"id": "z1", "n": 1}})
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"], timeout=20, what="delivery")
        delivered = flowd.request("GET", "/v1/outbox?status=delivered")[1]["commands"]
        self.assertEqual([c["attempts"] for c in delivered], [5, 5])  # each delivered after four 503s
        self.assertEqual(len(attempts), 10)
        self.assertLess(attempts[-1] - attempts[0], 2.0, "ten attempts, each retried at once despite Retry-After")

    def test_a_name_server_that_never_answers_holds_up_neither_another_target_nor_a_stop(self):
        # In namespaces of its own, where 127.0.0.1:53 is a name server that never answers.
        probe = subprocess.run(["unshare", "-rmn", "true"], capture_output=True)
        if probe.returncode != 0 or not shutil.which("ip") or not shutil.which("mount"):
            self.skipTest("needs unshare -rmn, ip and mount")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hanging_name_server.py")
        run = subprocess.run(["unshare", "-rmn", sys.executable, script, FLOWD], capture_output=True, text=True, timeout=90)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)

    # ---- durability ----------------------------------------------------------------------

    def test_a_timer_fires_across_a_restart(self):
        flowd = self.start()
        _, body = flowd.post_event({"id": "tm", "type": "Start", "data": {"id": "tm", "n": 1}})
        instance = body["deliveries"][0]["instance"]
        self.assertEqual(len(self.state_of(instance)["timers"]), 1)
        self.assertEqual(flowd.stop(signal.SIGKILL), -signal.SIGKILL)
        time.sleep(2.5)  # the timer falls due while flowd is down
        self.start()
        late = self.flowd.wait_for(lambda: self.state_of(instance)["state"] == "Late", timeout=5, what="the timer")
        self.assertTrue(late)
        details = self.state_of(instance)
        history = details["history"]
        self.assertEqual([h["kind"] for h in history].count("timer"), 1)
        # The handler ran as of the due time, but the records say when it actually fired.
        def when(text):
            import datetime
            return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        timer = next(h for h in history if h["kind"] == "timer")
        self.assertGreaterEqual((when(timer["at"]) - when(timer["due"])).total_seconds(), 0.4, timer)
        self.assertGreaterEqual(when(details["updated_at"]), when(timer["at"]))
        self.assertGreaterEqual(when(details["updated_at"]), when(details["created_at"]))

    def test_ended_instances_are_deleted_after_instance_retention_hours_and_kept_without_it(self):
        flowd = self.start()
        _, done = flowd.post_event({"id": "r1", "type": "Start", "data": {"id": "done", "n": 1}})
        for n in (1, 2):
            self.assertEqual(flowd.post_event({"id": f"r-poke-{n}", "type": "Poke", "data": {"id": "done"}})[0], 202)
        _, waiting = flowd.post_event({"id": "r2", "type": "Start", "data": {"id": "waiting", "n": 2}})
        done, waiting = done["deliveries"][0]["instance"], waiting["deliveries"][0]["instance"]
        self.assertEqual(self.state_of(done)["status"], "completed")
        flowd.wait_for(lambda: len(self.receiver.commands()) >= 4, what="the commands delivered")
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"], what="the outbox drained")
        self.assertEqual(flowd.stop(), 0)
        # Both instances made and last changed years ago; one delivered command of each too.
        import sqlite3
        with sqlite3.connect(os.path.join(self.dir, "flow.db")) as db:
            db.execute("UPDATE instances SET created_at = '2020-01-01T00:00:00.000Z', updated_at = '2020-01-02T00:00:00.000Z'")
            db.execute("UPDATE outbox SET created_at = '2020-01-01T00:00:00.000Z', delivered_at = '2020-01-01T00:00:01.000Z' "
                       "WHERE type = 'First'")
        # By default ended instances are kept: the round that prunes old deliveries leaves them.
        flowd = self.start()
        flowd.wait_for(lambda: 'flow_pruned_total{what="commands"} 2' in flowd.request("GET", "/metrics")[1],
                       what="the old deliveries pruned")
        self.assertIn('flow_pruned_total{what="instances"} 0', flowd.request("GET", "/metrics")[1])
        self.assertEqual(self.state_of(done)["status"], "completed")
        self.assertEqual(flowd.stop(), 0)
        flowd = self.start(instance_retention_hours=1)
        flowd.wait_for(lambda: flowd.request("GET", f"/v1/instances/{done}")[0] == 404, what="the ended instance deleted")
        self.assertIn('flow_pruned_total{what="instances"} 1', flowd.request("GET", "/metrics")[1])
        # The running one stays, however old; so does its delivered command. The ended one's
        # commands went with it.
        self.assertEqual(self.state_of(waiting)["status"], "running")
        commands = flowd.request("GET", "/v1/outbox")[1]["commands"]
        self.assertEqual(sorted((c["instance"], c["type"]) for c in commands), [(waiting, "Second")])
        # Its events are still known: a copy is a duplicate, not a new start.
        again = flowd.post_event({"id": "r1", "type": "Start", "data": {"id": "done", "n": 1}})
        self.assertEqual(again[0], 202, again)
        self.assertTrue(again[1]["duplicate"])
        self.assertEqual([i["id"] for i in flowd.instances()], [waiting])
        self.assertEqual(flowd.stop(), 0)
        self.assertTrue(any('"msg":"pruned"' in line and '"deleted":{"instances":1}' in line for line in flowd.log), flowd.log)

    def test_event_ids_are_forgotten_after_inbox_retention_hours_and_a_copy_is_then_new(self):
        flowd = self.start()
        _, first = flowd.post_event({"id": "f1", "type": "Start", "data": {"id": "k", "n": 1}})
        for n in (1, 2):
            self.assertEqual(flowd.post_event({"id": f"f-poke-{n}", "type": "Poke", "data": {"id": "k"}})[0], 202)
        self.assertEqual(flowd.post_event({"id": "f2", "type": "Start", "data": {"id": "other", "n": 2}})[0], 202)
        self.assertEqual(flowd.stop(), 0)
        import sqlite3
        with sqlite3.connect(os.path.join(self.dir, "flow.db")) as db:
            db.execute("UPDATE inbox SET received_at = '2020-01-01T00:00:00.000Z' WHERE event_id <> 'f2'")
        flowd = self.start(inbox_retention_hours=1, retention_hours=0)  # the thread runs for the inbox alone
        flowd.wait_for(lambda: 'flow_pruned_total{what="events"} 3' in flowd.request("GET", "/metrics")[1], what="the old ids forgotten")
        # A copy of an id still known is a duplicate; one forgotten is a new event: it starts a
        # new instance, the first one having completed.
        again = flowd.post_event({"id": "f2", "type": "Start", "data": {"id": "other", "n": 2}})
        self.assertTrue(again[1]["duplicate"], again)
        status, body = flowd.post_event({"id": "f1", "type": "Start", "data": {"id": "k", "n": 1}})
        self.assertEqual(status, 202, body)
        self.assertFalse(body["duplicate"])
        self.assertEqual(body["deliveries"][0]["outcome"], "started")
        self.assertNotEqual(body["deliveries"][0]["instance"], first["deliveries"][0]["instance"])
        self.assertEqual(sorted(i["status"] for i in flowd.instances(key="k")), ["completed", "running"])

    def test_a_timer_that_re_arms_itself_without_time_moving_on_fails_its_instance(self):
        # `after 0s` re-armed by its own handler would fire for ever and fill the disk with history.
        loop = os.path.join(self.dir, "loop")
        os.mkdir(loop)
        with open(os.path.join(loop, "loop.flow"), "w") as f:
            f.write("event Go { id: string }\nworkflow Loop {\n  key id: string\n  var n: int = 0\n"
                    "  start on Go { goto S }\n  state S { after 0s { n = n + 1 goto S } }\n}\n")
        flowd = self.start(flows=[loop])
        status, body = flowd.post_event({"id": "go", "type": "Go", "data": {"id": "a"}})
        self.assertEqual(status, 202, body)
        instance = body["deliveries"][0]["instance"]
        flowd.wait_for(lambda: self.state_of(instance)["status"] == "failed", timeout=60, what="the loop stopped")
        details = self.state_of(instance)
        self.assertEqual(details["vars"], {"n": 10000})  # as flowc simulate counts it
        self.assertEqual(details["error"], "timer loop: 10000 timers fired one after another without time moving on, "
                                           f"each already due when started at {loop}/loop.flow:6:13")
        self.assertEqual(details["timers"], [])

    def test_sigkill_under_load_loses_nothing_acknowledged(self):
        flowd = self.start()
        acknowledged, lock, stop = [], threading.Lock(), threading.Event()
        counter = iter(range(1, 10 ** 9))

        def make_event():
            n = next(counter)
            return {"id": f"w-{n}", "type": "Start", "data": {"id": f"w-{n}", "n": n}}

        def load(worker):
            post_until(flowd, stop, make_event, acknowledged, lock)

        threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        self.assertEqual(flowd.stop(signal.SIGKILL), -signal.SIGKILL, "flowd ended by itself under load")
        stop.set()
        for t in threads:
            t.join()
        self.assertGreater(len(acknowledged), 20)
        flowd = self.start()
        for event in acknowledged:  # every acknowledged event is there, exactly once
            status, body = flowd.post_event(event)
            self.assertEqual(status, 202)
            self.assertTrue(body["duplicate"], event["id"])
        keys = [i["key"] for i in flowd.instances(workflow="Test")]
        self.assertEqual(len(keys), len(set(keys)))
        self.assertTrue({e["data"]["id"] for e in acknowledged} <= set(keys))
        # Every resulting command arrives at least once, with one id.
        flowd.wait_for(lambda: not flowd.request("GET", "/v1/outbox?status=pending&limit=1000")[1]["commands"],
                       timeout=30, what="the outbox to drain")
        delivered = {}
        for c in self.receiver.commands():
            delivered.setdefault((c["instance"], c["type"]), set()).add(c["id"])
        for i in flowd.instances(workflow="Test"):
            for command_type in ("First", "Second"):
                self.assertEqual(len(delivered.get((i["id"], command_type), ())), 1, (i, command_type))

    def test_a_locked_database_answers_503_and_recovers_by_itself(self):
        import sqlite3
        flowd = self.start()
        self.assertEqual(flowd.post_event({"id": "before", "type": "Start", "data": {"id": "l1", "n": 1}})[0], 202)
        other = sqlite3.connect(os.path.join(self.dir, "flow.db"), timeout=1, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        status, body = flowd.post_event({"id": "during", "type": "Start", "data": {"id": "l2", "n": 1}})
        self.assertEqual(status, 503, body)
        self.assertEqual(flowd.request("GET", "/healthz")[0], 200)  # reads still answer
        other.execute("ROLLBACK")
        other.close()
        status, body = flowd.post_event({"id": "during", "type": "Start", "data": {"id": "l2", "n": 1}})
        self.assertEqual(status, 202, body)
        self.assertFalse(body["duplicate"])  # the refused attempt had recorded nothing
        self.assertEqual(sorted(i["key"] for i in flowd.instances()), ["l1", "l2"])

    def test_sigterm_stops_cleanly(self):
        flowd = self.start()
        flowd.post_event({"id": "q", "type": "Start", "data": {"id": "q", "n": 1}})
        self.assertEqual(flowd.stop(signal.SIGTERM), 0)
        self.assertIn('"msg":"stopped"', "".join(flowd.log))

    def test_sigint_stops_cleanly_and_a_request_in_flight_finishes(self):
        flowd = self.start()
        body = json.dumps({"id": "in-flight", "type": "Start", "data": {"id": "f", "n": 1}}).encode()
        with socket.create_connection(("127.0.0.1", flowd.port), timeout=20) as client:
            client.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
            time.sleep(0.3)
            flowd.process.send_signal(signal.SIGINT)
            time.sleep(0.3)
            client.sendall(body[10:])
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = client.recv(65536)
                if not chunk:
                    break
                answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 202 "), answer)
        self.assertEqual(flowd.wait(20), 0)
        self.assertIn('"msg":"stopped"', "".join(flowd.log))
        # Accepted, so kept: the next start has it.
        again = self.start()
        self.assertEqual([i["key"] for i in again.instances()], ["f"])

    def test_flowd_runs_with_larger_malloc_caches_unless_the_operator_set_glibc_tunables(self):
        def environment_of(env):
            flowd = Flowd(FLOWD, [self.flows], os.path.join(self.dir, "flow.db"), extra=["--target", "sink=http://127.0.0.1:9/"],
                          env=env).start()
            try:
                with open(f"/proc/{flowd.process.pid}/environ", "rb") as f:
                    variables = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
                self.assertEqual(flowd.request("GET", "/healthz")[0], 200)
                # Started again with the tunable set, it keeps its name for ps, top, pgrep -x and
                # killall, and so do the threads that have no name of their own.
                with open(f"/proc/{flowd.process.pid}/comm") as f:
                    self.assertEqual(f.read().strip(), os.path.basename(FLOWD)[:15])
                names = set()
                for task in os.listdir(f"/proc/{flowd.process.pid}/task"):
                    with open(f"/proc/{flowd.process.pid}/task/{task}/comm") as f:
                        names.add(f.read().strip())
                self.assertNotIn("exe", names)
                self.assertIn("flowd-writer", names)
                return variables.get(b"GLIBC_TUNABLES")
            finally:
                self.assertEqual(flowd.stop(signal.SIGTERM), 0)
        plain = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
        self.assertEqual(environment_of(plain), b"glibc.malloc.tcache_count=1000")
        self.assertEqual(environment_of({**plain, "GLIBC_TUNABLES": "glibc.malloc.tcache_count=20"}),
                         b"glibc.malloc.tcache_count=20")

    # ---- deployment ----------------------------------------------------------------------

    def test_metrics_address_serves_metrics_and_health_by_path_whatever_the_query(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        flowd = self.start(metrics_listen=f"127.0.0.1:{port}")

        def get(path):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read().decode()
            connection.close()
            return response.status, body

        for path in ["/metrics", "/metrics?name=flow_events_total", "/%6detrics"]:
            status, body = get(path)
            self.assertEqual(status, 200, path)
            self.assertIn("flow_events_total", body, path)
        self.assertEqual(get("/healthz?probe=1")[0], 200)
        self.assertEqual(get("/v1/instances")[0], 404)
        self.assertEqual(get("/v1/%65vents")[0], 404)
        self.assertEqual(flowd.request("GET", "/metrics?name=x")[0], 200)
        listening = [json.loads(line) for line in flowd.log if '"flowd is listening"' in line]
        self.assertEqual(listening[0]["metrics_listen"], f"127.0.0.1:{port}")

    def test_a_metrics_address_with_port_0_says_which_port_it_got(self):
        flowd = self.start(metrics_listen="127.0.0.1:0")
        listening = [json.loads(line) for line in flowd.log if '"flowd is listening"' in line]
        host, port = listening[0]["metrics_listen"].rsplit(":", 1)
        self.assertEqual(host, "127.0.0.1")
        self.assertNotEqual(port, "0")
        connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        connection.request("GET", "/healthz")
        self.assertEqual(connection.getresponse().status, 200)
        connection.close()


    def test_cancel_and_versions(self):
        flowd = self.start()
        _, body = flowd.post_event({"id": "c1", "type": "Start", "data": {"id": "c1", "n": 1}})
        instance = body["deliveries"][0]["instance"]
        status, answer = flowd.request("POST", f"/v1/instances/{instance}/cancel")
        self.assertEqual((status, answer["status"]), (200, "cancelled"))
        self.assertEqual(flowd.request("POST", f"/v1/instances/{instance}/cancel")[0], 409)
        flowd.stop()
        with open(os.path.join(self.flows, "test.flow"), "w") as f:
            f.write(TEST_FLOW.replace("pokes >= 2", "pokes >= 3"))
        with self.assertRaises(RuntimeError) as refused:
            self.start()
        self.assertIn("changed since it was deployed", str(refused.exception))
        with open(os.path.join(self.flows, "test.flow"), "w") as f:
            f.write(TEST_FLOW.replace("pokes >= 2", "pokes >= 3").replace("key id: string", "version 2\n  key id: string"))
        flowd = self.start()
        status, body = flowd.request("GET", "/v1/workflows")
        self.assertEqual(sorted((w["workflow"], w["version"], w["current"]) for w in body["workflows"]),
                         [("Test", 1, False), ("Test", 2, True)])
        self.assertTrue(all(w["name"] == w["workflow"] for w in body["workflows"]), body)

    def test_an_older_version_that_compiles_to_another_program_is_not_run(self):
        # A flowd whose compiler lowers a stored version's sources otherwise (here: the stored
        # sources edited to declare a variable before `pokes`, as another slot order would) must
        # not run that version's instances, which hold their variables by position.
        flowd = self.start()
        _, body = flowd.post_event({"id": "o1", "type": "Start", "data": {"id": "o1", "n": 1}})
        instance = body["deliveries"][0]["instance"]
        flowd.stop()
        self.flowd = None
        import sqlite3
        with sqlite3.connect(os.path.join(self.dir, "flow.db")) as db:
            sources = json.loads(db.execute("SELECT sources FROM workflows WHERE name = 'Test' AND version = 1").fetchone()[0])
            sources = {name: text.replace("var pokes: int = 0", "var note: string = \"\"\n  var pokes: int = 0") for name, text in sources.items()}
            db.execute("UPDATE workflows SET sources = ? WHERE name = 'Test' AND version = 1", (json.dumps(sources),))
        with open(os.path.join(self.flows, "test.flow"), "w") as f:
            f.write(TEST_FLOW.replace("key id: string", "version 2\n  key id: string"))
        flowd = self.start()
        warned = [json.loads(line) for line in flowd.log if "compiles with this flowd to another program" in line]
        self.assertEqual([(w["level"], w["workflow"], w["version"]) for w in warned], [("warn", "Test", 1)])
        self.assertNotEqual(warned[0]["deployed_hash"], warned[0]["recompiled_hash"])
        status, body = flowd.post_event({"id": "o2", "type": "Poke", "data": {"id": "o1"}})
        self.assertEqual(status, 503, body)
        self.assertIn("no program for Test version 1", body["error"])
        status, body = flowd.request("GET", f"/v1/instances/{instance}")
        self.assertEqual((body["status"], body["state"]), ("running", "Waiting"))
        # The current version's instances run.
        self.assertEqual(flowd.post_event({"id": "o3", "type": "Start", "data": {"id": "o3", "n": 1}})[0], 202)

    def test_a_row_that_does_not_fit_holds_back_no_other_timer_and_is_terminated(self):
        # One instance's variable edited to the wrong type: its timer cannot fire, the other
        # instance's timer due with it fires all the same, the instance says why it cannot run,
        # and terminate ends it, freeing its key.
        flowd = self.start()
        ids = {}
        for key in ("good", "bad"):
            status, body = flowd.post_event({"id": f"fit-{key}", "type": "Start", "data": {"id": key, "n": 1}})
            self.assertEqual(status, 202, body)
            ids[key] = body["deliveries"][0]["instance"]
        flowd.stop()
        self.flowd = None
        import sqlite3
        with sqlite3.connect(os.path.join(self.dir, "flow.db")) as db:
            db.execute("UPDATE instances SET vars = '[\"abc\"]' WHERE id = ?", (ids["bad"],))
        flowd = self.start()
        self.assertTrue(flowd.wait_for(lambda: self.state_of(ids["good"])["state"] == "Late", timeout=8, what="the good timer"))
        bad = self.state_of(ids["bad"])
        self.assertEqual((bad["status"], bad["state"], bad["vars"]), ("running", "Waiting", {"pokes": "abc"}))
        self.assertIn("variable 'pokes' holds a string where the workflow declares int", bad["cannot_run"])
        flowd.wait_for(lambda: any("timers cannot fire" in line and ids["bad"] in line for line in flowd.log), timeout=5,
                       what="the log of the timer that cannot fire")
        status, body = flowd.post_event({"id": "fit-poke", "type": "Poke", "data": {"id": "bad"}})
        self.assertEqual((status, body["error"]), (503, bad["cannot_run"]))
        status, ended = flowd.request("POST", f"/v1/instances/{ids['bad']}/terminate")
        self.assertEqual((status, ended["status"], ended["vars"], ended["timers"]), (200, "cancelled", {"pokes": "abc"}, []))
        self.assertEqual([h["kind"] for h in ended["history"]][-2:], ["terminate", "transition"])
        status, body = flowd.post_event({"id": "fit-again", "type": "Start", "data": {"id": "bad", "n": 2}})
        self.assertEqual((status, body["deliveries"][0]["outcome"]), (202, "started"))

    def test_a_command_whose_target_is_no_longer_bound_is_dead_logged_and_counted(self):
        # Version 1's commands wait for a target that version 2 no longer uses and the config no
        # longer binds: each goes dead when due, logged and counted like any other dead command.
        flowd = self.start(targets={"sink": {"url": "http://127.0.0.1:9/x",
                                             "retry": {"max_attempts": 5, "initial_backoff_ms": 1500, "max_backoff_ms": 1500}}})
        self.assertEqual(flowd.post_event({"id": "u1", "type": "Start", "data": {"id": "u1", "n": 1}})[0], 202)
        flowd.wait_for(lambda: flowd.request("GET", "/v1/outbox?status=pending")[1]["commands"][0]["attempts"] == 1,
                       what="a first failed attempt")
        flowd.stop()
        with open(os.path.join(self.flows, "test.flow"), "w") as f:
            f.write(TEST_FLOW.replace("to sink", "to other").replace("key id: string", "version 2\n  key id: string"))
        flowd = self.start(targets={"other": {"url": "http://127.0.0.1:9/y"}})
        warned = [json.loads(line) for line in flowd.log if "targets that are not bound" in line]
        self.assertEqual([(w["level"], w["workflow"], w["version"], w["targets"]) for w in warned], [("warn", "Test", 1, ["sink"])])
        dead = flowd.wait_for(lambda: len(flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"]) == 2 and
                              flowd.request("GET", "/v1/outbox?status=dead")[1]["commands"], what="both commands dead")
        self.assertEqual({c["last_error"] for c in dead}, {"target 'sink' has no binding"})
        metrics = flowd.request("GET", "/metrics")[1]
        self.assertIn('flow_delivery_attempts_total{target="sink",result="dead"} 2', metrics)
        self.assertNotIn('flow_delivery_seconds_count{target="sink"}', metrics)  # nothing was sent: no latency
        logged = [json.loads(line) for line in flowd.log if '"command dead"' in line]
        self.assertEqual(sorted(line["command"] for line in logged), sorted(c["id"] for c in dead))
        self.assertTrue(all(line["error"] == "target 'sink' has no binding" and line["level"] == "warn" for line in logged), logged)

    def test_the_port_opens_only_when_flowd_serves_and_listen_takes_host_names(self):
        # A client that waits only for the port must find flowd serving: the first requests after
        # the first connection succeed, on a fresh database each time (the slowest start).
        for round, host in enumerate(["localhost", "", "127.0.0.1"]):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            probe.close()
            db = os.path.join(self.dir, f"fresh{round}.db")
            process = subprocess.Popen([FLOWD, "--flows", self.flows, "--db", db, "--listen", f"{host}:{port}",
                                        "--target", "sink=http://127.0.0.1:9/"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                deadline = time.time() + 30
                while True:
                    self.assertIsNone(process.poll(), process.stderr.read() if process.poll() is not None else "")
                    try:
                        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                        connection.connect()
                        break
                    except OSError:
                        self.assertLess(time.time(), deadline)
                        time.sleep(0.001)
                connection.request("POST", "/v1/events", json.dumps({"id": f"r{round}", "type": "Start", "data": {"id": "k", "n": 1}}),
                                   {"Content-Type": "application/json"})
                response = connection.getresponse()
                self.assertEqual(response.status, 202, response.read())
                response.read()
                connection.request("GET", "/healthz")
                self.assertEqual(connection.getresponse().status, 200)
                connection.close()
            finally:
                process.send_signal(signal.SIGTERM)
                self.assertEqual(process.wait(timeout=30), 0)
                process.stderr.close()

    def test_clients_that_close_as_their_body_deadline_falls_leave_the_server_serving(self):
        # The body's deadline timer could fall due in the same pass as the read's end (the
        # client closed), with its handler already queued: it then wrote into the connection's
        # freed frame. Busy I/O threads (large batches being refused) widen that window.
        flowd = self.start(body_timeout_ms=200)
        batch = json.dumps([{"specversion": "1.0", "source": "/t", "id": f"b{n}", "type": f"Unknown{n}"} for n in range(3000)]).encode()
        busy_request = (b"POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/cloudevents-batch+json\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(batch)) + batch

        def busy():
            try:
                with socket.create_connection(("127.0.0.1", flowd.port), timeout=10) as s:
                    s.sendall(busy_request)
                    s.recv(100)
            except OSError:
                pass
        for _ in range(20):
            late = socket.create_connection(("127.0.0.1", flowd.port))
            late.sendall(b"POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"id\":")
            time.sleep(0.2 * 0.6)
            threads = [threading.Thread(target=busy) for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(0.2 * random.uniform(0.35, 0.9))
            late.close()
            for t in threads:
                t.join()
            time.sleep(0.05)
        self.assertIsNone(flowd.process.poll(), "".join(flowd.log)[-3000:])
        self.assertEqual(flowd.request("GET", "/healthz")[0], 200)

    def stop_cleanly(self, process, when):
        """SIGTERM to a flowd started by hand, which must log `stopped` and exit 0; the rest of its log."""
        process.send_signal(signal.SIGTERM)
        try:
            _, rest = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            self.fail(f"flowd did not stop after a SIGTERM {when}")
        self.assertEqual(process.returncode, 0, rest[-2000:])
        self.assertIn('"msg":"stopped"', rest)
        return rest

    def test_a_stop_during_the_start_ends_flowd_at_once(self):
        # Three hundred stored versions of a workflow the files no longer hold are compiled
        # again at start, each saying so: SIGTERM after the first, before flowd listens. It
        # stopped its I/O at once, and then waited for ever for the ports it was about to open.
        self.start()
        self.flowd.stop()
        self.flowd = None
        import sqlite3
        with sqlite3.connect(os.path.join(self.dir, "flow.db")) as db:
            db.executemany("INSERT INTO workflows (name, version, hash, ir, sources, deployed_at) VALUES (?, ?, 'h', '{}', ?, 't')",
                           [("Gone", v, json.dumps({"test.flow": TEST_FLOW})) for v in range(1, 301)])
        process = subprocess.Popen([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "flow.db"),
                                    "--config", os.path.join(self.dir, "config.json"), "--listen", "127.0.0.1:0"],
                                   stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        for line in process.stderr:
            if "no longer compiles" in line:
                break
        rest = self.stop_cleanly(process, "during its start")
        self.assertNotIn('"msg":"flowd is ready"', rest)

    def test_a_stop_signal_while_the_flows_compile_stops_flowd_cleanly(self):
        # Many workflows, so that the compile takes a while; SIGTERM once flowd holds the stop
        # signals pending (its SigBlk in /proc), which it did not: the signal killed it (143).
        many = os.path.join(self.dir, "many")
        os.makedirs(many)
        with open(os.path.join(many, "many.flow"), "w") as f:
            f.write("event Tick { id: string, n: int }\n")
            for w in range(400):
                f.write(f"workflow W{w} {{\n  key id: string\n  var total: int = 0\n  start on Tick as t {{ total = t.n * 2 + {w} goto S }}\n"
                        f"  state S {{ on Tick as t {{ if t.n > {w} {{ complete }} else {{ total = total + t.n }} }} after 1h {{ fail \"late\" }} }}\n}}\n")
        process = subprocess.Popen([FLOWD, "--flows", many, "--db", os.path.join(self.dir, "many.db"), "--listen", "127.0.0.1:0"],
                                   stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.addCleanup(lambda: process.poll() is not None or (process.kill(), process.communicate()))
        sigterm_bit = 1 << (signal.SIGTERM - 1)
        deadline = time.time() + 20
        while time.time() < deadline and process.poll() is None:
            try:
                with open(f"/proc/{process.pid}/status") as status:
                    blocked = next(int(line.split()[1], 16) for line in status if line.startswith("SigBlk:"))
            except (OSError, StopIteration):
                blocked = 0
            if blocked & sigterm_bit:
                break
            time.sleep(0.001)
        self.assertLess(time.time(), deadline, "flowd never held the stop signals pending")
        rest = self.stop_cleanly(process, "while the flows compile")
        self.assertNotIn('"msg":"flowd is ready"', rest)  # the signal came during the start

    def test_a_second_flowd_on_the_same_database_is_refused_and_the_first_goes_on(self):
        flowd = self.start()
        status, body = flowd.post_event({"id": "e1", "type": "Start", "data": {"id": "k1", "n": 1}})
        self.assertEqual(status, 202, body)
        link = os.path.join(self.dir, "link.db")
        os.symlink(os.path.join(self.dir, "flow.db"), link)
        for db in (os.path.join(self.dir, "flow.db"), link):
            done = subprocess.run([FLOWD, "--flows", self.flows, "--db", db, "--config", os.path.join(self.dir, "config.json"),
                                   "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=20)
            self.assertEqual(done.returncode, 1, done.stderr)
            self.assertIn("is in use by another flowd: one flowd per database", done.stderr)
        status, body = flowd.post_event({"id": "e2", "type": "Start", "data": {"id": "k2", "n": 2}})
        self.assertEqual(status, 202, body)
        status, body = flowd.request("GET", "/v1/instances")
        self.assertEqual([i["key"] for i in body["instances"]], ["k1", "k2"])
        # Killed, it leaves no lock behind: the next flowd starts on the database at once.
        flowd.stop(signal.SIGKILL)
        self.flowd = None
        status, body = self.start().request("GET", "/v1/instances")
        self.assertEqual(status, 200, body)
        self.assertEqual([i["key"] for i in body["instances"]], ["k1", "k2"])

    def test_a_file_that_is_no_database_stops_the_start_named_and_untouched(self):
        path = os.path.join(self.dir, "notes.db")
        content = b"these are not the pages of a database\n" * 200
        with open(path, "wb") as f:
            f.write(content)
        done = subprocess.run([FLOWD, "--flows", self.flows, "--db", path, "--listen", "127.0.0.1:0",
                               "--target", "sink=http://127.0.0.1:9/"], capture_output=True, text=True, timeout=20)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("flowd: cannot use the database " + path + ": file is not a database", done.stderr)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), content)
        self.assertFalse(os.path.exists(path + "-wal"))

    def test_a_database_whose_timers_cannot_be_read_stops_the_start_named(self):
        # Before, flowd started and numbered its timers from 1 again, where pending timers may
        # already hold those numbers.
        self.start().stop(signal.SIGTERM)
        self.flowd = None
        path = os.path.join(self.dir, "flow.db")
        db = sqlite3.connect(path)
        db.execute("DROP TABLE timers")
        db.commit()
        db.close()
        done = subprocess.run([FLOWD, "--flows", self.flows, "--db", path, "--listen", "127.0.0.1:0",
                               "--target", "sink=http://127.0.0.1:9/"], capture_output=True, text=True, timeout=20)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("flowd: cannot read the pending timers in " + path + ": no such table: timers", done.stderr)

    def test_a_port_in_use_stops_the_start_before_the_database_is_created(self):
        # Before, the database was created, migrated and given the workflows before the port
        # was found taken, and left behind.
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = os.path.join(self.dir, "metrics.json")
        with open(config, "w") as f:
            json.dump({"metrics_listen": "127.0.0.1:%d" % port}, f)
        try:
            for name, extra in (("listen", ["--listen", "127.0.0.1:%d" % port]),
                                ("metrics", ["--listen", "127.0.0.1:0", "--config", config])):
                with self.subTest(name):
                    db = os.path.join(self.dir, name + ".db")
                    done = subprocess.run([FLOWD, "--flows", self.flows, "--db", db, "--target", "sink=http://127.0.0.1:9/"] + extra,
                                          capture_output=True, text=True, timeout=20)
                    self.assertEqual(done.returncode, 1, done.stderr)
                    self.assertIn("flowd: cannot listen on 127.0.0.1:%d: Address already in use" % port, done.stderr)
                    self.assertEqual([f for f in os.listdir(self.dir) if f.startswith(name + ".db")], [])
        finally:
            taken.close()
        # The port free, the same start serves.
        done = subprocess.Popen([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "listen.db"), "--listen",
                                 "127.0.0.1:%d" % port, "--target", "sink=http://127.0.0.1:9/"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 10
            while True:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    connection.request("GET", "/healthz")
                    self.assertEqual(connection.getresponse().status, 200)
                    connection.close()
                    break
                except ConnectionError:
                    self.assertLess(time.time(), deadline, "flowd did not serve")
                    time.sleep(0.05)
        finally:
            done.send_signal(signal.SIGTERM)
            self.assertEqual(done.wait(timeout=20), 0)

    def test_a_database_in_a_missing_folder_stops_the_start(self):
        done = subprocess.run([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "missing", "flow.db"), "--listen",
                               "127.0.0.1:0", "--target", "sink=http://127.0.0.1:9/"], capture_output=True, text=True, timeout=20)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("the folder " + os.path.join(self.dir, "missing") + " does not exist", done.stderr)
        # A path that holds no file is refused too, where it was retried every second for ever
        # (and /dev/null was given a /dev/null-journal beside it).
        for db, reason in ((self.dir, "it is a folder, not a file"),
                           ("/dev/null", "it is not a regular file (a device, a pipe or a socket)")):
            done = subprocess.run([FLOWD, "--flows", self.flows, "--db", db, "--listen", "127.0.0.1:0",
                                   "--target", "sink=http://127.0.0.1:9/"], capture_output=True, text=True, timeout=20)
            self.assertEqual(done.returncode, 1, done.stderr)
            self.assertIn("flowd: cannot use the database " + db + ": " + reason, done.stderr)
        self.assertFalse(os.path.exists("/dev/null-journal"))
        done = subprocess.run([FLOWD, "--flows", self.flows, "--listen", "8080"],
                              capture_output=True, text=True, timeout=20)
        self.assertEqual(done.returncode, 2)
        self.assertIn("--listen 8080: takes HOST:PORT", done.stderr)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv") and shutil.which("prlimit"),
                         "needs root to run flowd as another user under a limit of threads")
    def test_a_limit_on_threads_stops_the_start_with_the_reason_at_every_thread(self):
        # Before, a thread refused at start ended flowd with std::terminate (SIGABRT, a core):
        # from the workers' pool, the I/O threads, the writer, the relay or the timer loop,
        # depending on where the limit fell. The limit is raised one at a time (it counts every
        # thread of the user, flowd's main thread included) until flowd starts.
        os.chmod(self.dir, 0o755)
        data = os.path.join(self.dir, "data")
        os.mkdir(data)
        os.chmod(data, 0o777)
        env = dict(os.environ)
        # LeakSanitizer's check at exit needs a thread of its own, which the limit refuses.
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
        refused_after_listening = 0
        started = False
        for limit in range(1, 64):
            process = subprocess.Popen(
                ["prlimit", f"--nproc={limit}:{limit}", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 FLOWD, "--flows", self.flows, "--db", os.path.join(data, "flow.db"), "--listen", "127.0.0.1:0",
                 "--target", "sink=http://127.0.0.1:9/"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
            lines = []
            watchdog = threading.Timer(60, process.kill)  # a flowd that hangs fails the test, not holds it
            watchdog.start()
            for line in process.stderr:
                lines.append(line)
                if '"flowd is ready"' in line:
                    started = True
                    process.send_signal(signal.SIGTERM)
            process.stderr.close()
            code = process.wait(timeout=30)
            watchdog.cancel()
            self.assertNotEqual(code, -signal.SIGKILL, f"limit {limit}: flowd hung: {''.join(lines)}")
            stderr = "".join(lines)
            self.assertNotIn("terminate called", stderr)
            if started:
                self.assertEqual(code, 0, stderr)
                break
            if limit == 1:
                continue  # setpriv itself may not start flowd
            self.assertEqual(code, 1, f"limit {limit}: {stderr}")
            self.assertIn("flowd: cannot start a thread: Resource temporarily unavailable (the process may be at its limit "
                          "of threads", stderr)
            if '"flowd is listening"' in stderr:
                refused_after_listening += 1
                self.assertIn('"msg":"stopped"', stderr)
        self.assertTrue(started, "flowd never started")
        self.assertGreater(refused_after_listening, 0)  # the relay's and the timers' threads were reached

    def test_a_start_that_cannot_listen_fires_no_timer_and_sends_nothing(self):
        # The target refuses until the end, so the instance's commands stay pending.
        answer = {"status": 503}
        retry = {"max_attempts": 1000, "initial_backoff_ms": 50, "max_backoff_ms": 100}
        flowd = self.start(lambda path, command, attempt: (answer["status"], {}), retry=retry)
        status, body = flowd.request("POST", "/v1/events", {"id": "e1", "type": "Start", "data": {"id": "k", "n": 1}})
        self.assertEqual(status, 202, body)
        instance = body["deliveries"][0]["instance"]
        flowd.wait_for(lambda: self.receiver.received, what="a first attempt")
        flowd.stop(signal.SIGTERM)
        self.flowd = None
        attempts_before = len(self.receiver.received)
        time.sleep(2.5)  # the instance's 2 s timer is now due
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        try:
            done = subprocess.run([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "flow.db"),
                                   "--config", os.path.join(self.dir, "config.json"),
                                   "--listen", "127.0.0.1:%d" % taken.getsockname()[1]],
                                  capture_output=True, text=True, timeout=20)
        finally:
            taken.close()
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("cannot listen on 127.0.0.1:", done.stderr)
        self.assertEqual(len(self.receiver.received), attempts_before)  # no command was tried
        import sqlite3
        with sqlite3.connect(os.path.join(self.dir, "flow.db")) as db:
            self.assertEqual(db.execute("SELECT state FROM instances WHERE id = ?", (instance,)).fetchone()[0], "Waiting")
            self.assertEqual(db.execute("SELECT count(*) FROM timers").fetchone()[0], 1)
            self.assertEqual(db.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0], 2)
        # A start that can listen fires the timer and delivers the commands.
        answer["status"] = 200
        flowd = self.start(retry=retry)
        deadline = time.time() + 10
        while time.time() < deadline and self.state_of(instance)["state"] != "Late":
            time.sleep(0.05)
        self.assertEqual(self.state_of(instance)["state"], "Late")
        flowd.wait_for(lambda: len(flowd.request("GET", "/v1/outbox?status=delivered")[1]["commands"]) == 2,
                       what="both commands delivered")

    def test_a_flows_path_that_does_not_exist_is_a_usage_error(self):
        missing = os.path.join(self.dir, "nowhere.flow")
        done = subprocess.run([FLOWD, "--flows", self.flows, missing, "--db", os.path.join(self.dir, "unused.db"),
                               "--listen", "127.0.0.1:0", "--target", "sink=http://127.0.0.1:9/"],
                              capture_output=True, text=True, timeout=20)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("--flows " + missing + ": no such file or folder", done.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "unused.db")))

    def test_sighup_stops_flowd_cleanly_as_sigterm_does(self):
        flowd = self.start()
        self.assertEqual(flowd.post_event({"id": "e1", "type": "Start", "data": {"id": "k1", "n": 1}})[0], 202)
        self.assertEqual(flowd.stop(signal.SIGHUP), 0)
        time.sleep(0.2)  # the log's last lines
        self.assertTrue(any('"msg":"stopped"' in line for line in flowd.log), flowd.log[-3:])
        self.assertFalse(os.path.exists(os.path.join(self.dir, "flow.db-wal")))  # closed, checkpointed

    def test_an_option_value_that_is_another_option_is_a_usage_error(self):
        done = subprocess.run([FLOWD, "--flows", self.flows, "--db", "--config", os.path.join(self.dir, "config.json")],
                              capture_output=True, text=True, timeout=20, cwd=self.dir)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("--db needs a value", done.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "--config")))

    def test_an_option_given_twice_is_a_usage_error(self):
        # Two configs are not merged, and a target bound twice is a slip: neither is taken silently.
        for twice, problem in ((["--config", "a.json", "--config=b.json"], "--config is given more than once"),
                               (["--db", "a.db", "--db", "b.db"], "--db is given more than once"),
                               (["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:1"], "--listen is given more than once"),
                               (["--target", "sink=http://127.0.0.1:9/a", "--target", "sink=http://127.0.0.1:9/b"],
                                "--target sink is given more than once"),
                               (["--target", "sink", "--target", "sink"], "--target takes NAME=URL"),
                               (["--target", "=http://127.0.0.1:9/a", "--target", "=http://127.0.0.1:9/b"], "--target takes NAME=URL")):
            done = subprocess.run([FLOWD, "--flows", self.flows] + twice, capture_output=True, text=True, timeout=20, cwd=self.dir)
            self.assertEqual(done.returncode, 2, (twice, done.stderr))
            self.assertIn(problem, done.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.dir, "a.db")))

    def test_a_linked_folder_under_flows_is_searched_once_and_a_link_loop_ends_no_search(self):
        # A folder reached through a link used to be passed over, its workflows missing quietly.
        other = os.path.join(self.dir, "elsewhere")
        os.makedirs(os.path.join(other, "deeper"))
        with open(os.path.join(other, "deeper", "other.flow"), "w") as f:
            f.write("event Other { id: string }\ncommand Ping to sink { id: string }\n"
                    "workflow Linked {\n  key id: string\n  start on Other as o { emit Ping { id: key } complete }\n}\n")
        os.symlink(other, os.path.join(self.flows, "linked"))
        os.symlink(other, os.path.join(self.flows, "linked-again"))  # the same folder twice: read once
        os.symlink("..", os.path.join(other, "deeper", "up"))  # a loop back up
        os.symlink(self.flows, os.path.join(self.flows, "itself"))
        # A link up out of the folder is a loop too (as `find -L` sees it): the folder above, with
        # a file that does not compile, is not read.
        with open(os.path.join(self.dir, "not-a-flow.flow"), "w") as f:
            f.write("this is not Flow\n")
        os.symlink("..", os.path.join(self.flows, "up"))
        flowd = self.start()
        status, body = flowd.request("GET", "/v1/workflows")
        self.assertEqual(status, 200)
        self.assertEqual(sorted(w["workflow"] for w in body["workflows"]), ["Linked", "Test"])
        self.assertEqual(flowd.post_event({"id": "l1", "type": "Other", "data": {"id": "l1"}})[1]["deliveries"][0]["outcome"], "started")

    def test_a_dangling_flow_link_in_a_flows_folder_stops_the_start(self):
        os.symlink(os.path.join(self.dir, "gone.flow"), os.path.join(self.flows, "gone.flow"))
        done = subprocess.run([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "unused.db"),
                               "--listen", "127.0.0.1:0", "--target", "sink=http://127.0.0.1:9/"],
                              capture_output=True, text=True, timeout=20)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("gone.flow", done.stderr)
        self.assertIn("cannot read", done.stderr)

    def test_an_ipv6_listen_address_is_logged_in_brackets(self):
        probe = socket.socket(socket.AF_INET6)
        try:
            probe.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback here")
        finally:
            probe.close()
        process = subprocess.Popen([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "flow.db"),
                                    "--listen", "[::1]:0", "--config", write_config(os.path.join(self.dir, "c.json"),
                                                                                  targets={"sink": {"url": "http://127.0.0.1:9/"}})],
                                   stderr=subprocess.PIPE, text=True)
        try:
            listening = None
            for line in process.stderr:
                if "flowd is listening" in line:
                    listening = json.loads(line)["listen"]
                    break
            self.assertRegex(listening or "", r"^\[::1\]:\d+$")
        finally:
            process.send_signal(signal.SIGTERM)
            self.assertEqual(process.wait(timeout=30), 0)
            process.stderr.close()

    def test_a_target_url_that_is_no_url_stops_the_start(self):
        for url, problem in (("http://exa mple/hook", "is not a valid URL: percent-encode spaces and other special characters"), ("http:///hook", "names no host"),
                             ("ftp://example/hook", "must start with http:// or https://"),
                             ("http://127.0.0.1:abc/x", "has a port that is not a number from 1 to 65535"),
                             ("http://127.0.0.1:99999/x", "has a port that is not"), ("http://127.0.0.1:0/x", "has a port that is not"),
                             ("http://127.0.0.1:/x", "has a port that is not")):
            done = subprocess.run([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "unused.db"),
                                   "--listen", "127.0.0.1:0", "--target", "sink=" + url],
                                  capture_output=True, text=True, timeout=20)
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertIn("--target sink=" + url + ": the URL " + problem, done.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.dir, "unused.db")))
        config = os.path.join(self.dir, "bad-url.json")
        with open(config, "w") as f:
            json.dump({"targets": {"sink": {"url": "https://example.com/a b"}}}, f)
        done = subprocess.run([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "unused.db"),
                               "--listen", "127.0.0.1:0", "--config", config], capture_output=True, text=True, timeout=20)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("targets.sink.url is not a valid URL", done.stderr)

    def test_a_config_key_set_to_null_counts_as_left_out(self):
        flowd = self.start(admin_token=None, webhook_secrets=None, max_body_bytes=None,
                           targets={"sink": {"url": "http://127.0.0.1:9/x", "secret": None, "retry": None}})
        self.assertEqual(flowd.request("GET", "/v1/instances")[0], 200)  # no admin token
        self.assertEqual(flowd.post_event({"id": "n1", "type": "Start", "data": {"id": "n1", "n": 1}})[0], 202)  # no signature

    def test_a_config_value_out_of_its_range_stops_the_start(self):
        sink = {"url": "http://127.0.0.1:9/x"}
        for config, problem in (
                ({"targets": {"sink": dict(sink, timeout_ms=10000000000000)}}, "targets.sink.timeout_ms must be an integer from 1 to 86400000"),
                ({"targets": {"sink": sink}, "header_timeout_ms": 10000000000000}, "header_timeout_ms must be an integer from 1 to 86400000"),
                ({"targets": {"sink": sink}, "body_timeout_ms": 0}, "body_timeout_ms must be an integer from 1 to 86400000"),
                ({"targets": {"sink": sink}, "retention_hours": 10000000000000}, "retention_hours must be an integer from 0 to 876000"),
                ({"targets": {"sink": sink}, "instance_retention_hours": -1}, "instance_retention_hours must be an integer from 0 to 876000"),
                ({"targets": {"sink": sink}, "inbox_retention_hours": 876001}, "inbox_retention_hours must be an integer from 0 to 876000"),
                ({"targets": {"sink": sink}, "max_database_mb": 100000000000000}, "max_database_mb must be an integer from 0 to 16777216"),
                ({"targets": {"sink": sink}, "max_body_bytes": 9223372036854775807}, "max_body_bytes must be an integer from 1 to 67108864"),
                ({"targets": {"sink": sink}, "max_connections": 18446744073709551615}, "max_connections must be an integer from 1 to 1000000"),
                ({"targets": {"sink": sink}, "max_connections": 2.5}, "max_connections must be an integer from 1 to 1000000"),
                ({"targets": {"sink": sink}, "max_batch_events": 0}, "max_batch_events must be an integer from 1 to 100000"),
                ({"targets": {"sink": sink}, "max_batch_events": 100001}, "max_batch_events must be an integer from 1 to 100000"),
                ({"targets": {"sink": dict(sink, retry={"max_backoff_ms": 9223372036854775807})}},
                 "targets.sink.retry.max_backoff_ms must be an integer from 0 to 2592000000"),
                ({"targets": {"sink": dict(sink, retry={"max_attempts": 4294967296})}},
                 "targets.sink.retry.max_attempts must be an integer from 1 to 1000000"),
                ({"targets": {"sink": dict(sink, retry={"initial_backoff_ms": -1})}},
                 "targets.sink.retry.initial_backoff_ms must be an integer from 0 to 2592000000"),
                # Not a range, but refused the same way: a command can never name such a target.
                ({"targets": {"sink": sink, "": sink}}, "targets: a target's name must not be empty")):
            path = os.path.join(self.dir, "range.json")
            with open(path, "w") as f:
                json.dump(config, f)
            done = subprocess.run([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "unused.db"),
                                   "--listen", "127.0.0.1:0", "--config", path], capture_output=True, text=True, timeout=20)
            self.assertEqual(done.returncode, 2, (config, done.stderr))
            self.assertIn(problem, done.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.dir, "unused.db")))

    def test_a_config_with_a_typo_a_guessable_secret_or_broken_json_stops_the_start(self):
        # A misspelt key would silently leave its check off (no signatures, no admin token), a
        # `whsec_` secret with nothing after it would be a key anyone can guess, and an admin token
        # with a space or a newline could never be matched.
        sink = {"url": "http://127.0.0.1:9/x"}
        for text, problem in (
                (json.dumps({"targets": {"sink": sink}, "webhook_secret": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}),
                 'unknown key "webhook_secret" (the config takes targets, webhook_secrets, admin_token'),
                (json.dumps({"targets": {"sink": dict(sink, timeoutms=5)}}), 'unknown key "targets.sink.timeoutms" (targets.sink takes url,'),
                (json.dumps({"targets": {"sink": dict(sink, retry={"max_attempt": 3})}}), 'unknown key "targets.sink.retry.max_attempt"'),
                (json.dumps({"targets": {"sink": sink}, "tls": {"certificate": "a", "private_key": "b", "key": "c"}}), 'unknown key "tls.key"'),
                (json.dumps({"targets": {"sink": sink}, "webhook_secrets": ["whsec_"]}), "webhook_secrets[0] is whsec_ with no key after it"),
                (json.dumps({"targets": {"sink": sink}, "webhook_secrets": ["s3cret", "whsec_=="]}), "webhook_secrets[1] is whsec_ with no key after it"),
                (json.dumps({"targets": {"sink": dict(sink, secret="whsec_")}}), "targets.sink.secret is whsec_ with no key after it"),
                (json.dumps({"targets": {"sink": sink}, "webhook_secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"]}),
                 "webhook_secrets[0] holds a control character or begins or ends with a space (a newline at its end?)"),
                (json.dumps({"targets": {"sink": dict(sink, secret=" s3cret")}}), "targets.sink.secret holds a control character or begins"),
                (json.dumps({"targets": {"sink": sink}, "webhook_secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"]}),
                 "webhook_secrets[0] is whsec_ followed by text that is not base64"),
                (json.dumps({"targets": {"sink": dict(sink, secret="whsec_not base64!")}}), "targets.sink.secret is whsec_ followed by text that is not base64"),
                ('{"targets": {"sink": {"url": "http://127.0.0.1:9/x"}}, "admin_token": "s3cret-token", "admin_token": ""}',
                 'the key "admin_token" is given twice: give it once'),
                ('{"targets": {"sink": {"url": "http://127.0.0.1:9/x", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "secret": ""}}}',
                 'the key "targets.sink.secret" is given twice'),
                (json.dumps({"targets": {"sink": sink}, "admin_token": "s3cret\n"}), "admin_token holds a control character or begins or ends"),
                (json.dumps({"targets": {"sink": sink}, "admin_token": " s3cret"}), "admin_token holds a control character or begins or ends"),
                (json.dumps({"targets": {"sink": sink}, "admin_token": "s3\tcret"}), "admin_token holds a control character or begins or ends"),
                (json.dumps({"targets": {"sink": dict(sink, ca_file="ca.pem")}}), "targets.sink.ca_file is for an https:// target"),
                (json.dumps({"targets": {"sink": sink}, "tls": {"certificate": "", "private_key": "key.pem"}}),
                 "tls.certificate must be a file name"),
                (json.dumps({"targets": {"sink": sink}, "tls": {"certificate": "cert.pem", "private_key": ""}}),
                 "tls.private_key must be a file name"),
                (json.dumps({"targets": {"sink": {"url": "http://user:pw@127.0.0.1:9/x"}}}), "targets.sink.url holds a user name or password"),
                (json.dumps({"targets": {"sink": {"url": "ftp://127.0.0.1:9/x"}}}), "targets.sink.url must start with http:// or https://"),
                ('{\n  "targets": {"sink": {"url": "http://127.0.0.1:9/x"}},\n}\n', "cannot be read as JSON: parse error at line 3, column 1"),
                ('', "cannot be read as JSON: parse error at line 1, column 1"),
                ('{"targets": {}} // comment', "cannot be read as JSON"),
                ('{"max_body_bytes": 1e400}', "cannot be read as JSON: number overflow parsing '1e400'"),
                ('[1]', "is not a JSON object")):
            path = os.path.join(self.dir, "typo.json")
            with open(path, "w") as f:
                f.write(text)
            done = subprocess.run([FLOWD, "--flows", self.flows, "--db", os.path.join(self.dir, "unused.db"),
                                   "--listen", "127.0.0.1:0", "--config", path], capture_output=True, text=True, timeout=20)
            self.assertEqual(done.returncode, 2, (text, done.stderr))
            self.assertIn(problem, done.stderr, text)
            self.assertFalse(os.path.exists(os.path.join(self.dir, "unused.db")))

    def test_a_url_scheme_in_capitals_and_a_base64_whsec_secret_are_taken(self):
        # RFC 3986 3.1: a scheme is case-insensitive. A whsec_ secret signs with its decoded key.
        secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
        received = []

        class Sink(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            flowd = self.start(targets={"sink": {"url": f"HTTP://127.0.0.1:{server.server_address[1]}/x", "secret": secret}})
            self.assertEqual(flowd.post_event({"id": "cap", "type": "Start", "data": {"id": "cap", "n": 1}})[0], 202)
            deadline = time.time() + 10
            while not received and time.time() < deadline:
                time.sleep(0.05)
            self.assertTrue(received)
            headers, body = received[0]
            signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
            expected = base64.b64encode(hmac.new(b"0123456789abcdef0123456789abcdef", signed, hashlib.sha256).digest()).decode()
            self.assertIn("v1," + expected, headers["webhook-signature"].split(" "))
        finally:
            server.shutdown()

    def test_unbound_target_stops_the_start(self):
        with self.assertRaises(RuntimeError) as refused:
            self.start(targets={})
        self.assertIn("target 'sink'", str(refused.exception))
        self.assertIn("workflow 'Test'", str(refused.exception))


if __name__ == "__main__":
    FLOWD, SOURCE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    del sys.argv[1:3]
    unittest.main(verbosity=2)
