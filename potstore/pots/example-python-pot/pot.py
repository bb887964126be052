"""example-python-pot: the smallest external HoneyBee pot (Python 3, stdlib only).

Listens on TCP --port (default 2323), greets every client with the banner
from $EXAMPLE_POT_BANNER, reads one line (bounded) and reports the
connection to the node's event port as an "example.connection" event with
honeybee_client.send_event (it reads HONEYBEE_EVENT_PORT, HONEYBEE_POT_ID and
HONEYBEE_HONEYPOT_TYPE, set by the node). Stops on SIGTERM or SIGINT.

Configuration comes from the potstore entry: `port` becomes the argument
--port=N, `banner` the environment variable EXAMPLE_POT_BANNER. Both are
plain data here; nothing is passed to a shell.
"""
import argparse
import os
import signal
import socket
import socketserver
import sys
import threading

import honeybee_client

DEFAULT_BANNER = "Ubuntu 22.04 LTS"
# Bounds on what one attacker can make us hold.
MAX_LINE_BYTES = 1024  # the rest of a longer line is not read
SESSION_TIMEOUT_S = 10.0  # to send the line, after the banner
MAX_SESSIONS = 256  # concurrent; further clients are closed at once


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server = self.server
        if not server.slots.acquire(blocking=False):
            return  # over the cap: closed without a word (counted by nobody)
        try:
            self._session()
        finally:
            server.slots.release()

    def _session(self):
        sock = self.request
        peer_ip, peer_port = self.client_address[0], self.client_address[1]
        line = b""
        try:
            sock.settimeout(SESSION_TIMEOUT_S)
            sock.sendall(self.server.banner + b"\r\n")
            while len(line) < MAX_LINE_BYTES and b"\n" not in line:
                chunk = sock.recv(MAX_LINE_BYTES - len(line))
                if not chunk:
                    break
                line += chunk
        except OSError:
            pass  # timeout, reset: report what arrived
        line = line.split(b"\n", 1)[0].rstrip(b"\r")
        honeybee_client.send_event(
            "example.connection",
            src_ip=peer_ip,
            src_port=peer_port,
            dst_port=self.server.server_address[1],
            input=line,  # bytes: the client keeps non-UTF-8 visible
        )


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    address_family = socket.AF_INET


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=2323)
    parser.add_argument("--bind", default="0.0.0.0")
    args = parser.parse_args(argv)
    banner = os.environ.get("EXAMPLE_POT_BANNER") or DEFAULT_BANNER

    server = Server((args.bind, args.port), Handler)
    server.banner = banner.encode("utf-8", "replace")
    server.slots = threading.BoundedSemaphore(MAX_SESSIONS)

    def stop(_signum, _frame):
        # shutdown() waits for serve_forever, which runs in this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("example-python-pot listening on %s:%d" % server.server_address, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
