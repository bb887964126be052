"""`honeycomb node` end to end: honeypot lines -> event port -> spool ->
Protocol v2 -> our core -> SQLite -> REST. Real samples from real honeypots
(../shared/samples/event-port/, copied in tests/data/event-port/), hostile
input, and outages: the core or the node killed with SIGKILL mid-stream must
still leave every event stored exactly once."""
import json
import os
import signal
import socket
from pathlib import Path

import pytest

from conftest import wait_for
from core_peer import Core
from node_proc import Node, all_events, stored_total

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "event-port"


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path / "core-home").start()
    yield c
    c.kill()


@pytest.fixture
def node(tmp_path, core):
    n = Node(tmp_path / "node-home", core.node_port).start()
    yield n
    n.kill()


def sample_lines(name):
    return [l for l in (SAMPLES / name).read_bytes().split(b"\n") if l.strip()]


def same_record(a, b):
    """Equal JSON, floats to 15 significant digits: the core re-serialises
    the record with Boost.JSON, which writes a double's shortest form only
    up to that (Cowrie's `time` 1795352890.2747633 comes back ...274763)."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= abs(b) * 1e-15
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_record(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_record(x, y) for x, y in zip(a, b))
    return a == b


def wait_stored(core, count, query="", timeout=60):
    wait_for(lambda: stored_total(core, query) >= count, timeout, what=f"{count} stored events ({query})")
    return stored_total(core, query)


def test_gen_config_and_help(tmp_path):
    n = Node(tmp_path)
    out = __import__("subprocess").run(n.argv("node", "--gen-config"), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert 'event_listen: "127.0.0.1:9100"' in out.stdout and "fsync: interval" in out.stdout
    (tmp_path / "gen.yml").write_text(out.stdout)
    bad = tmp_path / "bad.yml"
    bad.write_text("fsync: sometimes\n")
    r = __import__("subprocess").run(n.argv("node", "--config", bad), capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "fsync" in r.stderr and "never, interval, always" in r.stderr


def test_node_registers_and_id_persists(tmp_path, core):
    n = Node(tmp_path / "n").start()
    n.stop()
    n = Node(tmp_path / "n", core.node_port).start()
    node_id = n.node_id
    wait_for(lambda: (core.node(node_id) or {}).get("status") == "Running", 20, what="node Running in the core")
    assert core.node(node_id)["name"] == "test-node"
    n.stop()
    n2 = Node(tmp_path / "n", core.node_port).start()
    assert n2.node_id == node_id
    n2.kill()


def test_the_node_runs_in_the_small_executable_and_its_pots_in_honeycomb(tmp_path, core):
    # `honeycomb node` parses its command line, then execs honeycomb-node
    # (static: no shared C++ runtime at idle), same pid, same arguments.
    n = Node(tmp_path / "n", core.node_port).start()
    exe = os.readlink(f"/proc/{n.proc.pid}/exe")
    assert os.path.basename(exe) == "honeycomb-node"
    if os.environ.get("HONEYCOMB_SMALL_STATIC", "1") == "1":  # sanitizer builds link it dynamically
        with open(f"/proc/{n.proc.pid}/maps") as maps:
            assert "libstdc++" not in maps.read()
    wait_for(lambda: (core.node(n.node_id) or {}).get("status") == "Running", 20, what="node Running in the core")
    n.stop()
    # HONEYCOMB_SMALL_EXEC=0 keeps it in honeycomb, which does the same job.
    n = Node(tmp_path / "n", core.node_port, env={**os.environ, "HONEYCOMB_SMALL_EXEC": "0"}).start()
    assert os.path.basename(os.readlink(f"/proc/{n.proc.pid}/exe")) == "honeycomb"
    wait_for(lambda: (core.node(n.node_id) or {}).get("status") == "Running", 20, what="node Running in the core")
    n.stop()


@pytest.mark.parametrize("sample,per_event", [
    ("cowrie-honeybee-output.jsonl", False),
    ("cowrie-socketlog-output.jsonl", False),
    ("honnypotter.jsonl", True),
])
def test_samples_reach_the_core(core, node, sample, per_event):
    lines = sample_lines(sample)
    (node.send_each if per_event else node.send_stream)(lines)
    wait_stored(core, len(lines))
    events = all_events(core)
    assert len(events) == len(lines), "each line stored exactly once"
    records = [json.loads(l) for l in lines]
    # Matched by content: one connection per event may reach the node's two
    # I/O threads out of order.
    unmatched = sorted(events, key=lambda e: e["id"])
    for record in records:
        event = next((e for e in unmatched if same_record(e["raw"], record)), None)
        assert event is not None, f"the original record is kept whole: {record}"
        unmatched.remove(event)
        assert event["node_id"] == node.node_id
        assert event["event_type"] == (record.get("eventid") or record.get("event_type"))
        expected_pot = record.get("pot_id") or record.get("honeybee_honeypot_id") or record.get("sensor")
        assert event["pot_id"] == expected_pot
        if "src_ip" in record:
            assert event["src_ip"] == record["src_ip"]
        if "username" in record and isinstance(record["username"], str):
            assert event["username"] == record["username"]


def test_lone_newline_and_blank_lines_are_ignored(core, node):
    node.send_each([(SAMPLES / "honnypotter-invalid-utf8.txt").read_bytes(), b"   \r\n"])
    node.send_each([b'{"pot_id":"p1","event_type":"after"}'])
    wait_stored(core, 1)
    st = node.wait_stats(lambda s: s.get("blank_lines", 0) >= 2, what="two blank lines counted")
    assert st["malformed"] == 0
    assert stored_total(core) == 1


def test_hostile_input_never_stops_the_connection(core, tmp_path):
    node = Node(tmp_path / "hostile", core.node_port, config="max_line_bytes: 4096\n").start()
    try:
        with node.connect() as s:
            s.sendall(b"not json at all\n")
            s.sendall(b'{"unterminated": \n')
            s.sendall(b"\x00\xff\xfe binary \x80\x81\n")
            s.sendall(b'{"bad_utf8":"r\xffoot"}\n')
            s.sendall(b"[1,2,3]\n")
            s.sendall(b'{"deep":' + b"[" * 40 + b"]" * 40 + b"}\n")
            s.sendall(b'{"pot_id":"p1","event_type":"big","blob":"' + b"A" * 100_000 + b'"}\n')
            s.sendall(b'{"pot_id":"p1","event_type":"survivor","src_ip":"192.0.2.7"}\n')
        wait_stored(core, 2)
        st = node.wait_stats(lambda s: s.get("malformed", 0) >= 6, what="malformed lines counted")
        assert st["malformed"] == 6 and st["oversized"] == 1
        survivor = all_events(core, "event_type=survivor")
        assert len(survivor) == 1 and survivor[0]["src_ip"] == "192.0.2.7"
        [anomaly] = all_events(core, "event_type=node.line_too_long")
        assert anomaly["raw"]["line_bytes"] == len(b'{"pot_id":"p1","event_type":"big","blob":"') + 100_000 + 2
        assert anomaly["raw"]["line_head"].startswith('{"pot_id":"p1","event_type":"big"')
        assert len(anomaly["raw"]["line_head"]) == 1024
        assert stored_total(core) == 2
        assert node.proc.poll() is None
    finally:
        node.kill()


def test_a_line_split_across_reads_of_a_long_lived_connection(core, node):
    """The accept path reads a new connection at once; what it read of an
    unfinished line must carry over to the connection's coroutine, which
    then reads whenever the socket is readable, for as long as it stays open."""
    before = node.stats().get("bytes", 0)
    with node.connect() as s:
        first = b'{"pot_id":"p1","event_type":"sp'
        s.sendall(first)
        # Read (by the accept path) before the rest is sent.
        node.wait_stats(lambda st: st.get("bytes", 0) >= before + len(first) and st.get("connections_open") == 1,
                        what="the first half read")
        s.sendall(b'lit","n":1}\n{"pot_id":"p1","event_type":"split","n":2}')
        s.sendall(b'\n')
        wait_stored(core, 2)
        # Still open: a third line on the same connection.
        s.sendall(b'{"pot_id":"p1","event_type":"split","n":3}\n')
        wait_stored(core, 3)
        assert node.stats()["connections_open"] == 1
    assert sorted(e["raw"]["n"] for e in all_events(core, "event_type=split")) == [1, 2, 3]
    node.wait_stats(lambda st: st.get("connections_open") == 0, what="the connection closed")
    assert node.stats()["malformed"] == 0


def test_events_spool_while_the_core_is_down(tmp_path):
    # The node starts before any core exists: the event port is up at once
    # and every event waits in the spool.
    core = Core(tmp_path / "core-home")
    node = Node(tmp_path / "node-home", core.node_port).start()
    try:
        node.send_stream([json.dumps({"pot_id": "p", "event_type": "early", "n": i}) for i in range(500)])
        node.wait_stats(lambda s: s["spool"]["next_seq"] == 501, what="500 events spooled")
        core.start()
        assert wait_stored(core, 500) == 500
        node.wait_stats(lambda s: s["spool"]["pending_events"] == 0, what="spool emptied by acks")
    finally:
        node.kill()
        core.kill()


def numbered(n, start=0, pot="p"):
    return [json.dumps({"pot_id": pot, "event_type": "numbered", "n": i, "src_ip": "198.51.100.1"})
            for i in range(start, start + n)]


def assert_exactly_once(core, n):
    events = all_events(core, "event_type=numbered")
    seen = sorted(e["raw"]["n"] for e in events)
    assert seen == list(range(n)), f"{len(seen)} stored, {len(set(seen))} distinct, expected {n}"


def test_core_killed_mid_stream_loses_nothing(tmp_path):
    core = Core(tmp_path / "core-home").start()
    node = Node(tmp_path / "node-home", core.node_port).start()
    try:
        total = 20_000
        with node.connect() as s:
            lines = numbered(total)
            s.sendall(("\n".join(lines[:10_000]) + "\n").encode())
            wait_for(lambda: stored_total(core) > 0, 30, what="some events stored")
            core.kill()  # SIGKILL while events are in flight
            s.sendall(("\n".join(lines[10_000:]) + "\n").encode())
        node.wait_stats(lambda s: s["spool"]["next_seq"] == total + 1, what="every event spooled")
        core.start()
        wait_stored(core, total, timeout=120)
        node.wait_stats(lambda s: s["spool"]["pending_events"] == 0, what="spool emptied")
        assert_exactly_once(core, total)
    finally:
        node.kill()
        core.kill()


def test_node_killed_and_restarted_loses_nothing(tmp_path):
    core = Core(tmp_path / "core-home").start()
    node = Node(tmp_path / "node-home", core.node_port, config="fsync: always\n").start()
    try:
        first = 5_000
        node.send_stream(numbered(first))
        node.wait_stats(lambda s: s["spool"]["next_seq"] == first + 1, what="first events spooled")
        core.stop()  # nothing can be acknowledged from here on
        more = 5_000
        node.send_stream(numbered(more, start=first))
        node.wait_stats(lambda s: s["spool"]["next_seq"] == first + more + 1, what="all events spooled")
        node.kill()  # SIGKILL with events spooled and not confirmed
        core.start()
        node = Node(tmp_path / "node-home", core.node_port, config="fsync: always\n",
                    event_port=node.event_port).start()
        wait_stored(core, first + more, timeout=120)
        node.wait_stats(lambda s: s["spool"]["pending_events"] == 0, what="spool emptied")
        assert_exactly_once(core, first + more)
    finally:
        node.kill()
        core.kill()


def test_node_drop_on_shutdown(core, tmp_path):
    n = Node(tmp_path / "n", core.node_port).start()
    node_id = n.node_id
    wait_for(lambda: (core.node(node_id) or {}).get("status") == "Running", 20, what="node Running")
    assert n.stop(signal.SIGTERM) == 0
    wait_for(lambda: "disconnected (NodeDrop)" in core.output(), 20, what="NodeDrop logged by the core")


class PublicCoreLike:
    """A peer that reads as the public Rust core does (spec §4): every
    read() must be exactly one complete envelope of at most 4096 bytes, and
    there is no PotEvent variant. It records what it received and whether
    the node ever broke one of those rules."""

    def __init__(self, version=2):
        import threading
        self.version = version
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.messages = []
        self.violations = []
        self.conn = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.conn, _ = self.server.accept()
        while True:
            data = self.conn.recv(65536)
            if not data:
                return
            if len(data) > 4096 or data.count(b"\n") != 1 or not data.endswith(b"\n"):
                self.violations.append(data[:200])
                continue
            message = json.loads(data)["message"]
            self.messages.append(message)
            if isinstance(message, dict) and "NodeRegistration" in message:
                self.node_id = message["NodeRegistration"]["node_id"]
                self.send({"RegistrationAck": {"node_id": self.node_id, "accepted": True, "message": None,
                                               "totp_key": None}})

    def send(self, message):
        self.conn.sendall(json.dumps({"version": self.version, "message": message}).encode() + b"\n")

    def names(self):
        return [m if isinstance(m, str) else next(iter(m)) for m in self.messages]


def test_public_core_gets_status_and_answers_never_events(tmp_path):
    peer = PublicCoreLike()
    node = Node(tmp_path / "node-home", peer.port).start()
    try:
        wait_for(lambda: "NodeStatusUpdate" in peer.names(), 20, what="the status after registration")
        reg = peer.messages[0]["NodeRegistration"]
        assert reg["node_id"] == node.node_id and reg["node_type"] == "Full"
        # A unit command as the Rust core writes it: a bare string.
        statuses = peer.names().count("NodeStatusUpdate")
        peer.send({"NodeCommand": {"node_id": node.node_id, "command": "GetInstalledPots"}})
        # No pots: the list is only its end, a status (the heartbeat is 30 s away).
        wait_for(lambda: peer.names().count("NodeStatusUpdate") > statuses, 20, what="an answer to the command")
        peer.send({"NodeCommand": {"node_id": node.node_id, "command": {"GetPotStatus": "nope"}}})
        wait_for(lambda: "PotStatusUpdate" in peer.names(), 20, what="an answer to the pot command")
        [answer] = [m["PotStatusUpdate"] for m in peer.messages if isinstance(m, dict) and "PotStatusUpdate" in m]
        assert answer["pot_id"] == "nope" and answer["status"] == "Failed"
        node.send_stream(numbered(100))
        node.wait_stats(lambda s: s["spool"]["pending_events"] == 100, what="events kept in the spool")
        assert node.stop(signal.SIGTERM) == 0
        wait_for(lambda: "NodeDrop" in peer.messages, 20, what="NodeDrop as a bare string")
        assert "PotEvent" not in peer.names()
        assert peer.violations == [], "more or less than one envelope in one read"
        assert "does not confirm stored events" in node.output()
    finally:
        node.kill()


def test_a_core_of_another_protocol_version_is_logged_once(tmp_path):
    peer = PublicCoreLike(version=3)
    node = Node(tmp_path / "node-home", peer.port).start()
    try:
        wait_for(lambda: "NodeStatusUpdate" in peer.names(), 20, what="the status after registration")
        peer.send({"NodeCommand": {"node_id": node.node_id, "command": {"GetPotStatus": "nope"}}})
        wait_for(lambda: "PotStatusUpdate" in peer.names(), 20, what="an answer to the command")
        assert node.output().count("the core speaks protocol version 3 (this node: 2); going on") == 1
    finally:
        node.kill()
