"""Starting the real flowd binary on an ephemeral port, and a real HTTP receiver for its
commands: the pieces the integration tests share. Standard library only."""
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Flowd:
    def __init__(self, binary, flows, db, config=None, extra=(), env=None):
        self.binary, self.flows, self.db, self.config, self.extra = binary, flows, db, config, list(extra)
        self.env = env
        self.process = None
        self.port = None
        self.log = []

    def start(self, timeout=20, ready=True):
        """Starts flowd and learns its port. With `ready`, also waits until its database is open
        (until then flowd answers 503)."""
        args = [self.binary, "--flows", *self.flows, "--db", self.db, "--listen", "127.0.0.1:0", *self.extra]
        if self.config:
            args += ["--config", self.config]
        self.process = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            self.log.append(line)
            match = re.search(r'"listen":"127\.0\.0\.1:(\d+)"', line)
            if match:
                self.port = int(match.group(1))
            if self.port and (not ready or '"msg":"flowd is ready"' in line):
                self._drainer = threading.Thread(target=self._drain, daemon=True)
                self._drainer.start()
                return self
        raise RuntimeError("flowd did not start:\n" + "".join(self.log))

    def _drain(self):
        for line in self.process.stderr:
            self.log.append(line)
        self.process.stderr.close()  # flowd has ended: its log is all read

    def wait(self, timeout=20):
        """Waits for flowd to end by itself, then for its log to be read to the end."""
        code = self.process.wait(timeout)
        if getattr(self, "_drainer", None):
            self._drainer.join(timeout)
        return code

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "_drainer", None):
            self._drainer.join(timeout)
        return self.process.returncode

    def request(self, method, path, body=None, headers=None, timeout=30):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        connection.request(method, path, body=data, headers=headers or {})
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return response.status, parsed

    def post_event(self, event, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.request("POST", "/v1/events", event, h)

    def instances(self, **filters):
        """Every instance matching the filters, following the pages."""
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        found, cursor = [], None
        while True:
            page = "/v1/instances?limit=1000&" + query + (f"&after={cursor}" if cursor else "")
            status, body = self.request("GET", page)
            assert status == 200, body
            found += body["instances"]
            cursor = body["next"]
            if cursor is None:
                return found

    def wait_for(self, predicate, timeout=15, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError("timed out waiting for " + what)


def post_until(flowd, stop, make_event, acknowledged, lock):
    """Posts make_event() to flowd until `stop` is set, keeping the events answered 202 in
    `acknowledged`; connection errors (flowd being killed) are ignored."""
    while not stop.is_set():
        event = make_event()
        try:
            status, _ = flowd.post_event(event)
        except Exception:
            continue
        if status == 202:
            with lock:
                acknowledged.append(event)


class Receiver:
    """A command target. `behaviour(path, command, attempt)` returns (status, headers) or
    sleeps; the status "reset" closes the connection with a TCP reset instead of answering, and
    "interim" answers 100 Continue and 103 Early Hints before a 200.
    Every request is recorded. `port` reopens a receiver where an earlier one listened."""

    def __init__(self, behaviour=None, port=0, tls=None):
        """`tls`: (certificate, key) PEM files to answer over HTTPS."""
        self.received = []
        self.attempts = {}  # command id -> requests received with it
        self.connections = set()  # open connections, cut when the receiver closes
        self.lock = threading.Lock()
        self.behaviour = behaviour or (lambda path, command, attempt: (200, {}))
        self.closed = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with receiver.lock:
                    receiver.connections.add(self.connection)

            def finish(self):
                with receiver.lock:
                    receiver.connections.discard(self.connection)
                super().finish()

            def do_POST(self):
                if receiver.closed:
                    self.close_connection = True
                    return
                length = int(self.headers.get("Content-Length", "0"))
                command = json.loads(self.rfile.read(length) or b"{}")
                with receiver.lock:
                    attempt = receiver.attempts[command.get("id")] = receiver.attempts.get(command.get("id"), 0) + 1
                    receiver.received.append({"path": self.path, "command": command, "headers": dict(self.headers)})
                status, headers = receiver.behaviour(self.path, command, attempt)
                if status == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                if status == "interim":
                    for interim in (100, 103):
                        self.send_response_only(interim)
                        self.end_headers()
                    status = 200
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # flowd killed or a reset in mid-request: expected in these tests, not news

        self.server = Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls:
            import ssl
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path=""):
        return f"{self.scheme}://127.0.0.1:{self.port}/{path}"

    def commands(self):
        with self.lock:
            return [r["command"] for r in self.received]

    def close(self):
        """Stops listening and cuts the connections still open: the target is gone."""
        self.closed = True
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            for connection in self.connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def write_config(path, **config):
    with open(path, "w") as f:
        json.dump(config, f)
    return path


class RawTarget:
    """A command target that speaks raw bytes: `serve(connection, requests_read)` runs on its own
    thread for each connection and answers as it likes (endless interim answers, huge headers,
    a 408 on an idle connection...). `read_request(connection)` reads one request and returns its
    body, or None when the connection closed."""

    def __init__(self, serve):
        self.serve = serve
        self.bodies = []
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}/{path}"

    def _accept(self):
        while not self.closed:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(connection,), daemon=True).start()

    def _run(self, connection):
        try:
            self.serve(self, connection)
        except OSError:
            pass
        finally:
            connection.close()

    def read_request(self, connection):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            body += chunk
        command = json.loads(body[:length])
        with self.lock:
            self.bodies.append(command)
        return command

    def close(self):
        self.closed = True
        self.listener.close()
