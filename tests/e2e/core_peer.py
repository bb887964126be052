"""Helpers for the core's end-to-end tests: a `honeycomb core` process on
free ports, a REST client with the bearer token, and a raw-socket Protocol v2
peer that plays a node byte for byte (so framing and every accepted form can
be tested as the public implementations really send them)."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import BIN, free_port, port_open, read_output, start_listening


class Core:
    """A running `honeycomb core` with its own home, data dir and ports."""

    def __init__(self, home: Path, config: str = "", extra_args=(), node_auth="open", env=None):
        """`node_auth`: written to core.yml unless the config sets it; the
        tests of the Protocol v2 wire use raw peers, so "open" by default
        (test_node_security.py runs the default, certificates)."""
        if node_auth and "node_auth:" not in config:
            config = f"node_auth: {node_auth}\n" + config
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.node_port = free_port()
        self.api_port = free_port()
        self.ws_port = free_port()
        self.config_file = home / "core.yml"
        self.config_file.write_text(config)
        self.extra_args = list(extra_args)
        self.env = env
        self.proc = None
        self.out_path = home / "core.out"

    @property
    def data_dir(self):
        return self.home / "core"

    def argv(self, *args):
        base = [BIN, "--home", str(self.home)]
        if os.geteuid() == 0:
            base.append("--iamroot")
        return base + [str(a) for a in args]

    def start(self):
        # Output to a file, not a pipe: a chatty core must never block on us.
        self.out = open(self.out_path, "a")

        def spawn():
            self.proc = subprocess.Popen(
                self.argv("core", "--config", self.config_file, "--node-listen", f"127.0.0.1:{self.node_port}",
                          "--api-listen", f"127.0.0.1:{self.api_port}", "--ws-listen", f"127.0.0.1:{self.ws_port}",
                          *self.extra_args),
                stdout=self.out, stderr=subprocess.STDOUT, text=True, env=self.env)
            return self.proc

        def new_ports():
            self.node_port, self.api_port, self.ws_port = free_port(), free_port(), free_port()
        start_listening(self.out_path, spawn,
                        lambda since: port_open(self.node_port) and port_open(self.api_port) and port_open(self.ws_port),
                        "core", "the core's ports", new_ports)
        return self

    def output(self, since=0):
        return read_output(self.out_path, since)

    def stop(self, sig=signal.SIGINT):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        return self.proc.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def token(self):
        return (self.data_dir / "api-token").read_text().strip()

    def cli(self, *args):
        return subprocess.run(self.argv("core", "--config", self.config_file, *args), capture_output=True, text=True,
                              timeout=30)

    # ---- REST ----
    def request(self, method, path, body=None, token="default", headers=None):
        url = f"http://127.0.0.1:{self.api_port}{path}"
        data = None
        h = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if token == "default":
            token = self.token
        if token:
            h["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(url, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def get_json(self, path, token="default"):
        status, body, _ = self.request("GET", path, token=token)
        assert status == 200, f"GET {path}: {status} {body[:500]!r}"
        return json.loads(body)

    def node(self, node_id):
        status, body, _ = self.request("GET", f"/api/v1/nodes/{node_id}")
        return json.loads(body) if status == 200 else None

    def events(self, query=""):
        return self.get_json(f"/api/v1/events{query}")["events"]

    def metric(self, name):
        status, body, _ = self.request("GET", "/metrics")
        assert status == 200
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"metric {name} not found")


def envelope(message, version=2):
    return (json.dumps({"version": version, "message": message}, separators=(",", ":")) + "\n").encode()


class Peer:
    """A raw Protocol v2 connection playing a node."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send(self, message, version=2):
        self.sock.sendall(envelope(message, version))

    def register(self, node_id, name="node-a", node_type="Full", extensions=None):
        body = {"node_id": node_id, "node_name": name, "address": "127.0.0.1", "port": 9100, "node_type": node_type}
        if extensions is not None:
            body["extensions"] = extensions
        self.send({"NodeRegistration": body})
        ack = self.recv()
        assert "RegistrationAck" in ack["message"], ack
        return ack["message"]["RegistrationAck"]

    def recv(self, timeout=10):
        """The next envelope the core sends (one per line)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no message from the core in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the core closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def closed_by_peer(self, timeout=10):
        """True once the core has closed the connection (EOF or reset)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def pot_event(node_id, pot_id="cowrie-01", event_type="cowrie.login.failed", data=None, event_id=None, seq=None):
    body = {"node_id": node_id, "pot_id": pot_id, "pot_type": "cowrie", "event_type": event_type,
            "timestamp": "2026-11-30T10:00:00Z", "data": data or {"src_ip": "203.0.113.7", "username": "root",
                                                                   "password": "123456"}}
    if event_id:
        body["event_id"] = event_id
    if seq is not None:
        body["seq"] = seq
    return {"PotEvent": body}
