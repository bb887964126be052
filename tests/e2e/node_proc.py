"""A `honeycomb node` process for end-to-end tests: its own home and data
dir, a free event port, a core address; helpers to send event-port lines the
two ways real honeypots do (one connection per event, one long-lived
connection) and to read the node's statistics file."""
import json
import os
import signal
import socket
import subprocess
from pathlib import Path

from conftest import BIN, free_port, port_open, read_output, start_listening, wait_for


class Node:
    def __init__(self, home: Path, core_port=None, config: str = "", event_port=None, env=None):
        """`core_port`: the core's port on 127.0.0.1, or a list of them (or
        of HOST:PORT strings) for a node with several cores; None: standalone."""
        self.home = home
        self.env = env  # None: the test's own environment
        self.home.mkdir(parents=True, exist_ok=True)
        self.event_port = event_port or free_port()
        # A port of our choosing may move if another test takes it before
        # the first start; one given, or one a started node had, stays.
        self.port_may_move = event_port is None
        self.core_port = core_port
        self.config_file = home / "node.yml"
        self.config_file.write_text(config)
        self.proc = None
        self.out_path = home / "node.out"

    @property
    def data_dir(self):
        return self.home / "node"

    def argv(self, *args):
        base = [BIN, "--home", str(self.home)]
        if os.geteuid() == 0:
            base.append("--iamroot")
        return base + [str(a) for a in args]

    def start(self):
        cores = self.core_port if isinstance(self.core_port, (list, tuple)) else [self.core_port] if self.core_port else []
        core = ",".join(c if isinstance(c, str) else f"127.0.0.1:{c}" for c in cores) or "none"
        self.out = open(self.out_path, "a")

        def spawn():
            self.proc = subprocess.Popen(
                self.argv("node", "--config", self.config_file, "--event-listen", f"127.0.0.1:{self.event_port}",
                          "--core", core, "--name", "test-node"),
                stdout=self.out, stderr=subprocess.STDOUT, text=True, env=self.env)
            return self.proc

        def new_port():
            self.event_port = free_port()
        start_listening(self.out_path, spawn,
                        lambda since: port_open(self.event_port) and "honeycomb node is running" in self.output(since),
                        "node", "the node's event port", new_port if self.port_may_move else None)
        self.port_may_move = False
        return self

    def output(self, since=0):
        return read_output(self.out_path, since)

    @property
    def node_id(self):
        return int((self.data_dir / "node_id").read_text().strip())

    def stats(self):
        try:
            return json.loads((self.data_dir / "stats.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def wait_stats(self, predicate, timeout=30, what="node statistics"):
        wait_for(lambda: predicate(self.stats()), timeout, what=what)
        return self.stats()

    def stop(self, sig=signal.SIGINT):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        return self.proc.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    # ---- the event port, as honeypots use it ----
    def send_each(self, lines):
        """One connection per event (the seed's helpers, HonnyPotter)."""
        for line in lines:
            data = line if isinstance(line, bytes) else line.encode()
            with socket.create_connection(("127.0.0.1", self.event_port), timeout=10) as s:
                s.sendall(data if data.endswith(b"\n") else data + b"\n")

    def send_stream(self, lines):
        """One long-lived connection (Cowrie's HoneyBee output)."""
        with socket.create_connection(("127.0.0.1", self.event_port), timeout=10) as s:
            s.sendall(b"".join((l if isinstance(l, bytes) else l.encode()).rstrip(b"\n") + b"\n" for l in lines))

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.event_port), timeout=10)


def all_events(core, query=""):
    """Every stored event matching `query` (&-joined filters), newest first."""
    events, cursor = [], None
    sep = "&" if query else ""
    while True:
        page = core.get_json(f"/api/v1/events?limit=1000{sep}{query}" + (f"&cursor={cursor}" if cursor else ""))
        events += page["events"]
        cursor = page.get("next_cursor")
        if not cursor:
            return events


def stored_total(core, query=""):
    return core.get_json("/api/v1/stats" + (f"?{query}" if query else ""))["total"]
