"""Run by test_flowd.py inside a private user, mount and network namespace
(`unshare -rmn python3 hanging_name_server.py FLOWD`): a name server that never answers must hold
up neither another target's delivery nor a stop.

It answers with its exit status (0 when every check held) and prints what it saw."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flowd_harness import Flowd, Receiver, write_config  # noqa: E402

FLOW = """
event GoSlow { id: string }
event GoFast { id: string }
command ToSlow to slow { id: string }
command ToFast to fast { id: string }
workflow Slow { key id: string start on GoSlow { emit ToSlow { id: key } complete } }
workflow Fast { key id: string start on GoFast { emit ToFast { id: key } complete } }
"""


def main(flowd_binary):
    work = tempfile.mkdtemp()
    # Names: fast.test is in the hosts file; any other name asks 127.0.0.1:53, which never answers.
    with open(os.path.join(work, "resolv.conf"), "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:5 attempts:1\n")
    with open(os.path.join(work, "hosts"), "w") as f:
        f.write("127.0.0.1 localhost fast.test\n")
    for name in ("resolv.conf", "hosts"):
        subprocess.run(["mount", "--bind", os.path.join(work, name), "/etc/" + name], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 53))
    threading.Thread(target=lambda: [silent.recvfrom(4096) for _ in iter(int, 1)], daemon=True).start()

    receiver = Receiver()
    flows = os.path.join(work, "flows")
    os.mkdir(flows)
    with open(os.path.join(flows, "names.flow"), "w") as f:
        f.write(FLOW)
    retry = {"max_attempts": 5, "initial_backoff_ms": 100, "max_backoff_ms": 200}
    config = write_config(os.path.join(work, "config.json"), targets={
        "slow": {"url": "http://slow.test:9/slow", "timeout_ms": 1000, "retry": retry},
        "fast": {"url": f"http://fast.test:{receiver.port}/fast", "timeout_ms": 1000, "retry": retry}})
    flowd = Flowd(flowd_binary, [flows], os.path.join(work, "flow.db"), config).start()
    failures = []
    began = time.time()
    flowd.post_event({"id": "s1", "type": "GoSlow", "data": {"id": "s1"}})
    time.sleep(0.1)  # the slow target's lookup has begun
    for i in range(3):
        flowd.post_event({"id": f"f{i}", "type": "GoFast", "data": {"id": f"f{i}"}})
    while time.time() - began < 8 and len(receiver.commands()) < 3:
        time.sleep(0.02)
    arrived = time.time() - began
    print(f"the fast target had {len(receiver.commands())} of 3 commands after {arrived:.2f} s")
    if len(receiver.commands()) < 3 or arrived > 2:
        failures.append("the fast target's commands waited for the slow target's lookup")
    time.sleep(1.2)  # the slow target's retry is due: another lookup that hangs
    flowd.post_event({"id": "s2", "type": "GoSlow", "data": {"id": "s2"}})
    time.sleep(0.3)
    stopping = time.time()
    code = flowd.stop(signal.SIGTERM, timeout=30)
    took = time.time() - stopping
    print(f"SIGTERM during a lookup that hangs: exit status {code} after {took:.2f} s")
    if code != 0 or took > 3.5:
        failures.append("the stop waited for the lookup")
    receiver.close()
    for failure in failures:
        print("FAILED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
