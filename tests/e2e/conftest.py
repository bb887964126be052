"""Shared fixtures for the end-to-end tests: they drive the built `honeycomb`
binary as a user would, each test in a fresh home folder.

Waiting is always for a condition with a deadline (`wait_for`), never a
fixed sleep.
"""
import json
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from pg_server import PgServer

BIN = os.environ.get("HONEYCOMB_BIN", str(Path(__file__).resolve().parents[2] / "build/bin/honeycomb"))
SOURCE_DIR = Path(os.environ.get("HONEYCOMB_SOURCE_DIR", Path(__file__).resolve().parents[2]))


def wait_for(predicate, timeout=15.0, interval=0.02, what="condition"):
    """Polls `predicate` until it returns a truthy value or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _ephemeral_range():
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


_PORTS = random.Random(os.getpid())


def free_port(kind=socket.SOCK_STREAM):
    """A port nothing listens on, below the kernel's ephemeral range: the
    source ports of the clients the tests (and the tests running beside
    them) open come from that range, and one of them holding the port a
    service is about to bind on 0.0.0.0 made it fail with EADDRINUSE."""
    low, _ = _ephemeral_range()
    first = 10000 if low > 12000 else 1024
    for _ in range(200):
        port = _PORTS.randrange(first, low)
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_output(path, since=0):
    """What a process wrote to its output file, from byte `since` (a size
    taken before a start: that start's output only)."""
    try:
        with open(path, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def start_listening(out_path, spawn, ready, name, what, new_ports=None):
    """Starts a process with `spawn()` (it returns the Popen, writing to
    `out_path`) and waits until `ready(since)` holds, `since` being where
    this start's output begins. When the process exits saying "Address
    already in use", a test running beside this one took a port between
    free_port() and the bind: with `new_ports` (which picks others) it
    starts again, up to 3 times. Any other exit fails. Returns the Popen."""
    for attempt in range(3):
        began = out_path.stat().st_size if out_path.exists() else 0
        proc = spawn()

        def up():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited ({proc.returncode}):\n{read_output(out_path)}")
            return ready(began)
        try:
            wait_for(up, 20, what=what)
            return proc
        except AssertionError:
            if new_ports is None or attempt == 2 or "Address already in use" not in read_output(out_path, began):
                raise
            new_ports()


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def read_json_lines(path):
    p = Path(path)
    if not p.exists():
        return []
    out = []
    text = p.read_text(errors="replace")
    # A writer may be in the middle of a record: only complete lines count.
    # split("\n"), not splitlines(): U+0085 and U+2028 inside a record's
    # strings (attacker bytes) are not line ends.
    for line in text[:text.rfind("\n") + 1].split("\n"):
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out


class Honeycomb:
    """Runs the binary against one home folder."""

    def __init__(self, home: Path):
        self.home = home
        self.procs = []

    def argv(self, *args, root_flag=True):
        base = [BIN, "--home", str(self.home)]
        if root_flag and os.geteuid() == 0:
            base.append("--iamroot")
        return base + [str(a) for a in args]

    def run(self, *args, input=None, timeout=60, root_flag=True, check=False):
        r = subprocess.run(self.argv(*args, root_flag=root_flag), input=input, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"honeycomb {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def spawn(self, *args, **kw):
        p = subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        self.procs.append(p)
        return p

    @property
    def debug_log(self):
        return self.home / "honeycomb.debug.log"

    def log_records(self):
        return read_json_lines(self.debug_log)

    def wait_log(self, predicate, timeout=15.0, what="a debug log record"):
        return wait_for(lambda: next((r for r in self.log_records() if predicate(r)), None), timeout, what=what)

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait(timeout=10)
        # Daemons this test started: kill what a pidfile still names.
        for pidfile in (self.home / "services").glob("*.pid") if (self.home / "services").exists() else []:
            try:
                os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass


@pytest.fixture
def hc(tmp_path):
    h = Honeycomb(tmp_path / "home")
    yield h
    h.cleanup()


# ---- helpers added for the e2e suites (the fixtures above are unchanged) ----

def port_closed(port, host="127.0.0.1"):
    return not port_open(port, host)


def wait_port_open(port, timeout=15.0):
    return wait_for(lambda: port_open(port), timeout, what=f"port {port} to accept connections")


def wait_port_closed(port, timeout=15.0):
    return wait_for(lambda: port_closed(port), timeout, what=f"port {port} to close")


def pid_alive(pid):
    """True when `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rfind(")") + 2] != "Z"
    except (OSError, IndexError):
        return False


def child_pids(pid):
    """Pids whose parent is `pid` (from /proc), zombies included."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def source_plugin(kind, name):
    """The folder of a plugin in the source tree (services/<name> or integrations/<name>)."""
    return SOURCE_DIR / kind / name


def stop_process(proc, sig=signal.SIGINT, timeout=20):
    """Sends `sig` to a spawned process and returns (exit code, stdout, stderr)."""
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def wait_log_while_running(hc, proc, predicate, timeout=15.0, what="a debug log record"):
    """Like hc.wait_log, but fails at once (with the process's output) when
    `proc` exits first."""
    def check():
        record = next((r for r in hc.log_records() if predicate(r)), None)
        if record is None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the process exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        return record
    return wait_for(check, timeout, what=what)


@pytest.fixture
def pg_server():
    """A private PostgreSQL server for one test (tests/e2e/pg_server.py):
    `.uri` (superuser, database postgres), `.create_database(name)` -> URI,
    `.kill()`/`.resume()`/`.restart()` (same port). Stopped and removed after
    the test."""
    server = PgServer().start()
    yield server
    server.stop()
