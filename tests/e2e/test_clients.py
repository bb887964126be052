"""The event-port clients for honeypot authors (clients/): the Python module,
the PHP forwarder, the C++ header and the README's shell one-liner, each run
as a real process (python3, php-cli, a program built with g++, bash) against
a TCP listener standing in for a node's event port.

The receiving side is the `event_receiver` fixture: it yields
(port, wait_for_lines(n, timeout)), the port to put in HONEYBEE_EVENT_PORT and
a function that waits for the first n complete lines (bytes, without "\\n").
Here it is a plain Python listener; a node-backed variant can yield the same
pair. Tests about connections themselves (how many, dropped, reset) use the
listener directly (`line_listener`), since they are about the wire.

Waiting is always for a condition with a deadline, never a fixed sleep.
"""
import collections
import importlib.util
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import pytest

from conftest import SOURCE_DIR, free_port, wait_for

CLIENTS = SOURCE_DIR / "clients"
PYTHON_CLIENT_DIR = CLIENTS / "python"
PHP_CLIENT = CLIENTS / "php" / "honeybee.php"
CPP_CLIENT_DIR = CLIENTS / "cpp"
README = CLIENTS / "README.md"

POT_ID = "pot-test-01"
POT_TYPE = "testpot"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
SEED_KEYS = ["pot_id", "pot_type", "event_type", "timestamp", "data"]
# "Returns at once" for a client whose own timeout is 0.5 s, with room for a
# loaded CI machine.
FAST = 2.0


# ---------------------------------------------------------------------------
# The receiving side
# ---------------------------------------------------------------------------

class LineListener:
    """A stand-in for a node's event port: accepts any number of connections,
    never answers, and collects complete lines. It also counts connections,
    keeps what was left unterminated at end-of-file (a truncated line), and
    can drop its connections the way a restarting node does."""

    def __init__(self, port=0):
        self._server = socket.create_server(("127.0.0.1", port), backlog=128)
        self.port = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._lines = []
        self._fragments = []
        self._open = set()
        self._connections = 0
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self._connections += 1
                self._open.add(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        pending = b""
        try:
            while True:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                pending += chunk
                *complete, pending = pending.split(b"\n")
                if complete:
                    with self._lock:
                        self._lines.extend(complete)
        except OSError:
            pass
        finally:
            with self._lock:
                if pending:
                    self._fragments.append(pending)
                self._open.discard(conn)
            conn.close()

    def lines(self):
        with self._lock:
            return list(self._lines)

    def fragments(self):
        with self._lock:
            return list(self._fragments)

    def connection_count(self):
        with self._lock:
            return self._connections

    def open_connection_count(self):
        with self._lock:
            return len(self._open)

    def wait_for_lines(self, n, timeout=10.0):
        """The first `n` lines, once at least that many arrived."""
        wait_for(lambda: len(self.lines()) >= n, timeout, what=f"{n} line(s) on the event port")
        return self.lines()[:n]

    def drop_connections(self):
        """Closes every accepted connection (FIN), like a node restart."""
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread
        except OSError:
            pass
        self._server.close()
        self.drop_connections()


EventReceiver = collections.namedtuple("EventReceiver", "port wait_for_lines")


@pytest.fixture
def line_listener():
    listener = LineListener()
    yield listener
    listener.close()


@pytest.fixture
def event_receiver(line_listener):
    """(port, wait_for_lines(n, timeout)) of whatever receives the events."""
    return EventReceiver(line_listener.port, line_listener.wait_for_lines)


@pytest.fixture
def closed_port():
    """A loopback port where nothing listens: connecting is refused."""
    return free_port()


@pytest.fixture
def blackholed_port():
    """A port whose connects hang: a listener with a full accept queue (backlog
    0 plus one connection never accepted), so Linux drops further SYNs. This
    is what a wedged node looks like; the clients must give up on their own
    timeout instead of waiting for the kernel's (minutes)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=5)
    # Check the premise, so a kernel that behaves differently fails here
    # rather than making the timeout tests pass without testing anything.
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.3)
    with pytest.raises(socket.timeout):
        probe.connect(("127.0.0.1", port))
    probe.close()
    yield port
    filler.close()
    server.close()


class ResettingNode:
    """A node that reads a little of a connection, closes its side (FIN) and
    then resets it (close with unread data), while the client is still
    writing a large line. The client's next write then fails with EPIPE,
    which kills a process by SIGPIPE unless the client prevents it."""

    def __init__(self):
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.reset_done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            conn, _ = self._server.accept()
        except OSError:
            return
        conn.settimeout(30)
        conn.recv(65536)  # the client is writing the line now
        conn.shutdown(socket.SHUT_WR)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        self.reset_done.set()

    def close(self):
        try:
            self._server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._server.close()


@pytest.fixture
def resetting_node():
    node = ResettingNode()
    yield node
    node.close()


# Big enough to outlast the loopback socket buffers, so the client is still
# writing when the reset arrives.
RESET_PAYLOAD_BYTES = 16 << 20


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def client_env(port, pot_id=POT_ID, pot_type=POT_TYPE, **extra):
    """The environment a node gives a honeypot (HONEYBEE_* from the outer
    environment removed, so only what the test sets counts)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONEYBEE_")}
    env["HONEYBEE_EVENT_PORT"] = str(port)
    if pot_id is not None:
        env["HONEYBEE_POT_ID"] = pot_id
    if pot_type is not None:
        env["HONEYBEE_HONEYPOT_TYPE"] = pot_type
    env.update(extra)
    return env


def parse_line(line):
    """A received line as an event: it must be strict UTF-8 JSON, an object."""
    assert line.strip(), f"an empty line was sent: {line!r}"
    event = json.loads(line.decode("utf-8", errors="strict"))
    assert isinstance(event, dict), line
    return event


def by_event_type(lines):
    """Received events keyed by event_type. Lines sent on separate
    connections may be read in any order, so tests never rely on it."""
    events = {}
    for event in map(parse_line, lines):
        assert event["event_type"] not in events, f"received twice: {event}"
        events[event["event_type"]] = event
    return events


def assert_seed_shape(event, event_type, pot_id=POT_ID, pot_type=POT_TYPE):
    assert list(event) == SEED_KEYS, event
    assert event["pot_id"] == pot_id
    assert event["pot_type"] == pot_type
    assert event["event_type"] == event_type
    assert isinstance(event["data"], dict)
    assert_recent_utc_timestamp(event["timestamp"])


def assert_recent_utc_timestamp(text):
    assert ISO_UTC.match(text), text
    when = datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - when).total_seconds()) < 120, text


def run_python(code, env, timeout=60):
    """Runs `code` in a fresh python3 with clients/python importable; its
    stdout must be one JSON value, which is returned."""
    env = dict(env, PYTHONPATH=str(PYTHON_CLIENT_DIR))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "", result.stderr
    return json.loads(result.stdout)


def run_php(code, env, timeout=60):
    """Runs a PHP script that requires clients/php/honeybee.php, with every
    warning and notice shown on stderr, and PHP's default variables_order
    (under which $_ENV is empty). Returns the completed process."""
    script = f"<?php\nrequire '{PHP_CLIENT}';\n{code}\n"
    return subprocess.run(
        ["php", "-n", "-d", "variables_order=GPCS", "-d", "error_reporting=-1", "-d", "display_errors=stderr",
         "-d", "display_startup_errors=1", "-d", "memory_limit=256M"],
        input=script, env=env, capture_output=True, text=True, timeout=timeout)


def load_python_client():
    """The Python module, imported in this process (for EventClient tests
    that interleave sends with what the node does)."""
    spec = importlib.util.spec_from_file_location("honeybee_client_under_test",
                                                  PYTHON_CLIENT_DIR / "honeybee_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------
# Python
# ---------------------------------------------------------------------------

def test_python_send_event_sends_the_seed_shape(event_receiver):
    port, wait_for_lines = event_receiver
    sent = run_python(r'''
import json, honeybee_client
class Session:
    def __str__(self):
        return "Session<42>"
ok = honeybee_client.send_event(
    "login",
    {"username": b"r\xffoot", "password": b"secret", "port": 22},
    src_ip="203.0.113.5", tags={"brute"}, session=Session(), ratio=0.5, ok=False, nothing=None,
    note='two\nlines "quoted" \\ tab\t é', nested={"raw": [b"\x00\xfe", (1, 2)]}, ratio_nan=float("nan"))
print(json.dumps(ok))
''', client_env(port))
    assert sent is True

    [line] = wait_for_lines(1)
    event = parse_line(line)
    assert_seed_shape(event, "login")
    assert event["data"] == {
        "username": "b'r\\xffoot'",  # invalid UTF-8: Python repr, as Cowrie logs it
        "password": "secret",        # valid UTF-8 bytes: decoded
        "port": 22,
        "src_ip": "203.0.113.5",
        "tags": "{'brute'}",
        "session": "Session<42>",
        "ratio": 0.5,
        "ok": False,
        "nothing": None,
        "note": 'two\nlines "quoted" \\ tab\t é',
        "nested": {"raw": ["b'\\x00\\xfe'", [1, 2]]},
        "ratio_nan": "nan",
    }


def test_python_reads_the_environment_at_each_call(event_receiver, closed_port):
    port, wait_for_lines = event_receiver
    results = run_python(f'''
import json, os, honeybee_client
results = [honeybee_client.send_event("first")]      # port from the start: nothing listens
os.environ["HONEYBEE_EVENT_PORT"] = "{port}"
results.append(honeybee_client.send_event("second"))  # no pot id/type yet
os.environ["HONEYBEE_POT_ID"] = "{POT_ID}"
os.environ["HONEYBEE_HONEYPOT_TYPE"] = "{POT_TYPE}"
results.append(honeybee_client.send_event("third", {{"n": 3}}))
print(json.dumps(results))
''', client_env(closed_port, pot_id=None, pot_type=None))
    assert results == [False, True, True]

    events = by_event_type(wait_for_lines(2))
    second, third = events["second"], events["third"]
    assert list(second) == ["event_type", "timestamp", "data"]  # unknown pot: left to the node
    assert second["event_type"] == "second" and second["data"] == {}
    assert_seed_shape(third, "third")
    assert third["data"] == {"n": 3}


def test_python_one_connection_per_event(line_listener):
    sent = run_python('''
import json, honeybee_client
print(json.dumps([honeybee_client.send_event("e", i=i) for i in range(5)]))
''', client_env(line_listener.port))
    assert sent == [True] * 5
    events = [parse_line(line) for line in line_listener.wait_for_lines(5)]
    assert sorted(e["data"]["i"] for e in events) == [0, 1, 2, 3, 4]
    assert line_listener.connection_count() == 5
    wait_for(lambda: line_listener.open_connection_count() == 0, what="every connection closed by the client")
    assert line_listener.fragments() == []


def test_python_large_event_arrives_whole(event_receiver):
    port, wait_for_lines = event_receiver
    sent = run_python('''
import json, honeybee_client
print(json.dumps(honeybee_client.send_event("http.post", password="p" * 300000)))
''', client_env(port))
    assert sent is True
    [line] = wait_for_lines(1)
    assert parse_line(line)["data"]["password"] == "p" * 300000


def test_python_seed_class_is_source_compatible(event_receiver):
    port, wait_for_lines = event_receiver
    results = run_python('''
import json
from honeybee_client import HoneyBeeOutput
output = HoneyBeeOutput()
results = [output.start(), output.send_event("login", {"username": "admin"}), output.stop()]
print(json.dumps(results))
''', client_env(port))
    assert results == [True, True, True]
    events = by_event_type(wait_for_lines(3))
    assert sorted(events) == ["honeypot.started", "honeypot.stopped", "login"]
    for event_type, event in events.items():
        assert_seed_shape(event, event_type)
    assert events["login"]["data"] == {"username": "admin"}
    assert events["honeypot.started"]["data"] == {} and events["honeypot.stopped"]["data"] == {}


SEND_ALL_PYTHON_WAYS = '''
import json, time, honeybee_client
out = {}
start = time.monotonic()
out["send_event"] = honeybee_client.send_event("login", username="root")
out["send_event_seconds"] = time.monotonic() - start
client = honeybee_client.EventClient()
start = time.monotonic()
out["client"] = [client.send_event("login", username="root"), client.send_event("login", username="root")]
out["client_seconds"] = time.monotonic() - start
start = time.monotonic()
out["output"] = honeybee_client.HoneyBeeOutput().send_event("login", {"username": "root"})
out["output_seconds"] = time.monotonic() - start
print(json.dumps(out))
'''


def test_python_nothing_listening_returns_false_at_once(closed_port):
    out = run_python(SEND_ALL_PYTHON_WAYS, client_env(closed_port))  # no stderr, exit 0
    assert out["send_event"] is False and out["client"] == [False, False] and out["output"] is False
    assert out["send_event_seconds"] < FAST
    assert out["client_seconds"] < FAST
    assert out["output_seconds"] < FAST


def test_python_wedged_node_costs_at_most_the_timeout(blackholed_port):
    out = run_python(SEND_ALL_PYTHON_WAYS, client_env(blackholed_port))
    assert out["send_event"] is False and out["client"] == [False, False] and out["output"] is False
    assert out["send_event_seconds"] < FAST
    assert out["client_seconds"] < 2 * FAST  # two events, each bounded
    assert out["output_seconds"] < FAST


def test_python_survives_a_node_that_resets_mid_line(resetting_node):
    out = run_python(f'''
import json, honeybee_client
print(json.dumps(honeybee_client.send_event("big", payload="x" * {RESET_PAYLOAD_BYTES})))
''', client_env(resetting_node.port))
    assert out is False
    assert resetting_node.reset_done.is_set()


def test_event_client_shares_one_connection_between_threads(line_listener):
    honeybee_client = load_python_client()
    threads_count, per_thread = 8, 50
    results = {}
    with honeybee_client.EventClient(port=line_listener.port, timeout=5.0) as client:
        def work(thread_index):
            results[thread_index] = [client.send_event("burst", thread=thread_index, i=i, pad="z" * 1000)
                                     for i in range(per_thread)]
        threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        lines = line_listener.wait_for_lines(threads_count * per_thread)
    assert results == {t: [True] * per_thread for t in range(threads_count)}
    seen = sorted((e["data"]["thread"], e["data"]["i"]) for e in map(parse_line, lines))
    assert seen == [(t, i) for t in range(threads_count) for i in range(per_thread)]  # none torn, none twice
    assert line_listener.connection_count() == 1


def test_event_client_replaces_a_connection_the_node_closed(line_listener):
    honeybee_client = load_python_client()
    client = honeybee_client.EventClient(port=line_listener.port)
    try:
        assert client.send_event("before.restart") is True
        line_listener.wait_for_lines(1)
        line_listener.drop_connections()
        wait_for(lambda: line_listener.open_connection_count() == 0, what="the node side closed")
        # The client has not noticed yet; its socket now reads as EOF.
        wait_for(lambda: select.select([client._sock], [], [], 0)[0], what="the FIN at the client")
        # Written into the dead socket, this event would be lost.
        assert client.send_event("after.restart") is True
        lines = line_listener.wait_for_lines(2)
    finally:
        client.close()
    assert [parse_line(line)["event_type"] for line in lines] == ["before.restart", "after.restart"]
    assert line_listener.connection_count() == 2


def test_event_client_notices_a_closed_connection_and_reconnects_when_the_node_returns(line_listener):
    honeybee_client = load_python_client()
    client = honeybee_client.EventClient(port=line_listener.port)
    try:
        assert client.send_event("one") is True
        assert client.is_connected() is True
        line_listener.wait_for_lines(1)  # accepted, so there is a connection to drop
        line_listener.drop_connections()
        wait_for(lambda: not client.is_connected(), what="the client to see the connection closed")

        port = line_listener.port
        line_listener.close()
        start = time.monotonic()
        assert client.send_event("while.down") is False
        assert time.monotonic() - start < FAST

        returned = LineListener(port)  # the node is back, on the same port
        try:
            assert client.send_event("two") is True
            [line] = returned.wait_for_lines(1)
            assert parse_line(line)["event_type"] == "two"
        finally:
            returned.close()
    finally:
        client.close()


# ---------------------------------------------------------------------------
# PHP
# ---------------------------------------------------------------------------

def test_php_sends_the_seed_shape_with_getenv(event_receiver):
    port, wait_for_lines = event_receiver
    result = run_php('''
echo count($_ENV), "\\n";  // the premise: the guide's $_ENV is empty here
require '%s';              // a second include must be harmless
var_export(honeybee_send_event('login', ['username' => 'admin', 'url' => 'http://example.test/wp-login.php', 'n' => 3]));
echo "\\n";
$forwarder = new HoneyBeeForwarder();
var_export($forwarder->sendEvent('session.closed', []));
''' % PHP_CLIENT, client_env(port))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert result.stdout.split() == ["0", "true", "true"]

    lines = wait_for_lines(2)
    assert any(b'"url":"http://example.test/wp-login.php"' in line for line in lines)  # slashes not escaped
    events = by_event_type(lines)
    login, closed = events["login"], events["session.closed"]
    assert_seed_shape(login, "login")
    assert login["data"] == {"username": "admin", "url": "http://example.test/wp-login.php", "n": 3}
    assert_seed_shape(closed, "session.closed")
    assert closed["data"] == {}  # an object, even when empty


def test_php_invalid_utf8_still_sends_valid_json(event_receiver):
    port, wait_for_lines = event_receiver
    result = run_php(r'''
var_export(honeybee_send_event('login', ['username' => "r\xffoot", 'password' => "\xc3\x28pass"]));
''', client_env(port))
    assert result.returncode == 0 and result.stderr == "", result.stdout + result.stderr
    assert result.stdout == "true"
    [line] = wait_for_lines(1)
    event = parse_line(line)  # not a lone "\n"
    assert_seed_shape(event, "login")
    assert event["data"] == {"username": "r\ufffdoot", "password": "\ufffd(pass"}


def test_php_large_event_arrives_whole(event_receiver):
    port, wait_for_lines = event_receiver
    result = run_php('''var_export(honeybee_send_event('http.post', ['password' => str_repeat('p', 300000)]));''',
                     client_env(port))
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "true", result.stdout + result.stderr
    [line] = wait_for_lines(1)
    assert parse_line(line)["data"]["password"] == "p" * 300000


PHP_SEND_BOTH_WAYS = '''
$start = microtime(true);
$a = honeybee_send_event('login', ['username' => 'root']);
$b = (new HoneyBeeForwarder())->sendEvent('login', ['username' => 'root']);
echo json_encode(['function' => $a, 'forwarder' => $b, 'seconds' => microtime(true) - $start]);
'''


def test_php_nothing_listening_exits_cleanly_at_once(closed_port):
    result = run_php(PHP_SEND_BOTH_WAYS, client_env(closed_port))
    assert result.returncode == 0
    assert result.stderr == ""
    out = json.loads(result.stdout)
    assert out["function"] is False and out["forwarder"] is False
    assert out["seconds"] < FAST


def test_php_wedged_node_costs_at_most_the_timeout(blackholed_port):
    result = run_php(PHP_SEND_BOTH_WAYS, client_env(blackholed_port))
    assert result.returncode == 0 and result.stderr == "", result.stdout + result.stderr
    out = json.loads(result.stdout)
    assert out["function"] is False and out["forwarder"] is False
    assert out["seconds"] < 2 * FAST  # two events, each bounded


def test_php_survives_a_node_that_resets_mid_line(resetting_node):
    result = run_php(f"var_export(honeybee_send_event('big', ['payload' => str_repeat('x', {RESET_PAYLOAD_BYTES})]));",
                     client_env(resetting_node.port))
    assert result.returncode == 0 and result.stderr == "", result.stdout + result.stderr
    assert result.stdout == "false"
    assert resetting_node.reset_done.is_set()


# ---------------------------------------------------------------------------
# C++
# ---------------------------------------------------------------------------

CPP_PROGRAM = r'''
#include "honeybee_client.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  bool sent = false;
  const auto start = std::chrono::steady_clock::now();
  if (mode == "escaping") {
    sent = honeybee::send_event("login \"quoted\"", {
        {"quote", "say \"hi\""},
        {"backslash", "C:\\temp\\x"},
        {"controls", std::string("nl\n cr\r tab\t bell\x07 nul") + '\0' + " esc\x1b del\x7f"},
        {"invalid", "r\xffoot"},
        {"truncated", "ab\xe2\x82"},
        {"overlong", "\xc0\xaf"},
        {"surrogate", "\xed\xa0\x80"},
        {"too_big", "\xf4\x90\x80\x80"},
        {"valid", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9d"},
        {"key \"with\" quote\n", "v"},
        {"int", 22},
        {"negative", -7},
        {"u64", 18446744073709551615ull},
        {"double", 0.25},
        {"nan", std::nan("")},
        {"yes", true},
        {"null", nullptr},
    });
  } else if (mode == "plain") {
    sent = honeybee::send_event("ping");
  } else if (mode == "big") {
    sent = honeybee::send_event("big", {{"payload", std::string(static_cast<std::size_t>(std::atol(argv[2])), 'x')}});
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"sent\":%s,\"seconds\":%f}\n", sent ? "true" : "false", seconds);
  return 0;
}
'''


@pytest.fixture(scope="module")
def cpp_program(tmp_path_factory):
    """A tiny program using the header, built with g++ -std=c++17 and every
    warning as an error (a header for others' projects must compile cleanly)."""
    workdir = tmp_path_factory.mktemp("cpp_client")
    source = workdir / "pot.cpp"
    source.write_text(CPP_PROGRAM)
    binary = workdir / "pot"
    build = subprocess.run(
        ["g++", "-std=c++17", "-O1", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror",
         "-I", str(CPP_CLIENT_DIR), str(source), "-o", str(binary)],
        capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    return binary


def run_cpp(binary, env, *args):
    result = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_cpp_escapes_everything_it_sends(event_receiver, cpp_program):
    port, wait_for_lines = event_receiver
    pot_id = 'pot "cpp"\\01'
    out = run_cpp(cpp_program, client_env(port, pot_id=pot_id), "escaping")
    assert out["sent"] is True

    [line] = wait_for_lines(1)
    assert all(byte >= 0x20 for byte in line), line  # every control character escaped
    event = parse_line(line)  # strict UTF-8 JSON
    assert_seed_shape(event, 'login "quoted"', pot_id=pot_id)
    replaced = lambda raw: raw.decode("utf-8", errors="replace")  # noqa: E731 (U+FFFD per maximal invalid subpart)
    assert event["data"] == {
        "quote": 'say "hi"',
        "backslash": "C:\\temp\\x",
        "controls": "nl\n cr\r tab\t bell\x07 nul\x00 esc\x1b del\x7f",
        "invalid": "r\ufffdoot",
        "truncated": replaced(b"ab\xe2\x82"),
        "overlong": replaced(b"\xc0\xaf"),
        "surrogate": replaced(b"\xed\xa0\x80"),
        "too_big": replaced(b"\xf4\x90\x80\x80"),
        "valid": "café € 🐝",
        'key "with" quote\n': "v",
        "int": 22,
        "negative": -7,
        "u64": 18446744073709551615,
        "double": 0.25,
        "nan": "nan",
        "yes": True,
        "null": None,
    }
    assert event["data"]["overlong"] == "\ufffd\ufffd" and event["data"]["surrogate"] == "\ufffd" * 3


def test_cpp_reads_the_environment_at_call_time(event_receiver, cpp_program):
    port, wait_for_lines = event_receiver
    out = run_cpp(cpp_program, client_env(port, pot_id=None, pot_type=None), "plain")
    assert out["sent"] is True
    event = parse_line(wait_for_lines(1)[0])
    assert list(event) == ["event_type", "timestamp", "data"]  # unknown pot: left to the node
    assert event["event_type"] == "ping" and event["data"] == {}
    assert_recent_utc_timestamp(event["timestamp"])


def test_cpp_large_event_arrives_whole(event_receiver, cpp_program):
    port, wait_for_lines = event_receiver
    out = run_cpp(cpp_program, client_env(port), "big", "300000")
    assert out["sent"] is True
    assert parse_line(wait_for_lines(1)[0])["data"]["payload"] == "x" * 300000


def test_cpp_nothing_listening_returns_false_at_once(cpp_program, closed_port):
    out = run_cpp(cpp_program, client_env(closed_port), "plain")
    assert out["sent"] is False
    assert out["seconds"] < FAST


def test_cpp_wedged_node_costs_at_most_the_timeout(cpp_program, blackholed_port):
    out = run_cpp(cpp_program, client_env(blackholed_port), "plain")
    assert out["sent"] is False
    assert out["seconds"] < FAST


def test_cpp_survives_a_node_that_resets_mid_line(cpp_program, resetting_node):
    # Without MSG_NOSIGNAL the write after the reset raises SIGPIPE and the
    # program dies (exit -13) instead of returning false.
    out = run_cpp(cpp_program, client_env(resetting_node.port), "big", str(RESET_PAYLOAD_BYTES))
    assert out["sent"] is False
    assert resetting_node.reset_done.is_set()


# ---------------------------------------------------------------------------
# Shell one-liner (taken from clients/README.md, so the documented one works)
# ---------------------------------------------------------------------------

def readme_shell_one_liner():
    """The bash block that follows the `shell-one-liner` marker in the README."""
    text = README.read_text()
    match = re.search(r"<!-- shell-one-liner[^>]*-->\s*```bash\n(.*?)```", text, re.S)
    assert match, "clients/README.md lost its marked shell one-liner"
    return match.group(1)


def test_shell_one_liner_sends_an_event(event_receiver):
    port, wait_for_lines = event_receiver
    result = subprocess.run(["bash", "-c", readme_shell_one_liner()], env=client_env(port),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stderr
    [line] = wait_for_lines(1)
    event = parse_line(line)
    assert_seed_shape(event, "script.ran")
    assert event["data"] == {"message": "backup finished"}


def test_shell_one_liner_nothing_listening_is_silent(closed_port):
    start = time.monotonic()
    result = subprocess.run(["bash", "-c", readme_shell_one_liner()], env=client_env(closed_port),
                            capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < FAST + 3  # includes starting bash and date
    assert result.returncode == 0
    assert result.stdout == "" and result.stderr == ""
