#!/usr/bin/env python3
"""Demo services for the examples: one HTTP server that plays every command target.

flowd's relay POSTs each command to http://HOST:PORT/<target>; this server answers 200 and,
a moment later, sends back to flowd the event a real service would send, so that instances
move through their states. Standard library only.

  python3 examples/services/demo_services.py --port 9001 --flowd http://127.0.0.1:8080
"""
import argparse
import json
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def reactions(command):
    """The events that answer a command, as (type, data) pairs."""
    t, d = command["type"], command["data"]
    if t == "SubmitAdvertisement":
        return [("PublishingConfirmed", {"campaignId": d["campaignId"], "confirmationId": "pub-" + d["campaignId"]})]
    if t == "ReserveStock":
        return [("StockReserved", {"orderId": d["orderId"], "reservationId": "res-" + d["orderId"]})]
    if t == "ChargePayment":
        payment = {"id": "pay-" + d["orderId"], "order": d["orderId"]}
        return [("com.acme.payments.captured.v1", {"payment": payment, "capturedAt": now_rfc3339()})]
    if t == "ShipOrder":
        return [("ShipmentDispatched", {"orderId": d["orderId"], "trackingNumber": "TRK-" + d["orderId"]})]
    if t == "RequestEmployeeApproval":
        return [("RouteConfirmed", {"bookingId": d["bookingId"]})]
    if t == "BookFlights":
        return [("FlightBooked", {"bookingId": d["bookingId"], "flightId": "FL-" + d["bookingId"], "price": 320.0})]
    if t == "BookHotel":
        return [("HotelBooked", {"bookingId": d["bookingId"], "hotelId": "HO-" + d["bookingId"]})]
    if t == "AssignAgent" and not d.get("escalated"):
        return [("AgentReplied", {"ticketId": d["ticketId"], "agent": "demo-agent"})]
    return []  # notifications, compensations and the like need no answer


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Demo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    flowd = "http://127.0.0.1:8080"
    delay = 0.3
    seen = set()
    lock = threading.Lock()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        command = json.loads(self.rfile.read(length) or b"{}")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with Demo.lock:  # commands arrive at least once: answer each id once
            if command.get("id") in Demo.seen:
                return
            Demo.seen.add(command.get("id"))
        print(f"{self.path}: {command.get('type')} {json.dumps(command.get('data'))}", flush=True)
        for event_type, data in reactions(command):
            threading.Timer(Demo.delay, send_event, args=(event_type, data)).start()

    def log_message(self, *args):
        pass


def send_event(event_type, data):
    body = json.dumps({"id": str(uuid.uuid4()), "type": event_type, "data": data}).encode()
    request = urllib.request.Request(Demo.flowd + "/v1/events", data=body, headers={"Content-Type": "application/json"})
    for _ in range(5):
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                print(f"  -> {event_type}: {response.status}", flush=True)
                return
        except Exception as error:  # flowd restarting: try again shortly
            print(f"  -> {event_type}: {error}", flush=True)
            time.sleep(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--flowd", default="http://127.0.0.1:8080")
    parser.add_argument("--delay", type=float, default=0.3, help="seconds before a service answers")
    args = parser.parse_args()
    Demo.flowd, Demo.delay = args.flowd, args.delay
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Demo)
    print(f"demo services on 127.0.0.1:{args.port}, answering to {args.flowd}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
