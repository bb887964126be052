"""A node given several cores (issue 9, the node side): it tries them in
turn, stays with the one it reached, and when that core dies it goes on to
the next and resends whatever the dead one had not confirmed.

The cores here are two separate SQLite cores (each its own home), not two
cores on one PostgreSQL database: each deduplicates only what it stored
itself, so an event the killed core committed without the node hearing the
ack is stored by both. What must hold: every event is stored, by one core or
the other, each core stores it at most once, and the only events stored by
both are ones the killed core had not confirmed when it died."""
import json
import re
import socket
import threading

import pytest

from conftest import free_port, wait_for
from core_peer import Core
from node_proc import Node, all_events, stored_total

# Acks every 50 ms in stats.json; a window small enough that "not yet
# confirmed when the core died" is a bound worth checking.
MAX_UNACKED = 2000
NODE_CONFIG = f"stats_interval_ms: 50\nmax_unacked_events: {MAX_UNACKED}\nreconnect_min_ms: 100\n"


def numbered(n, start=0, event_type="numbered"):
    return [json.dumps({"pot_id": "p", "event_type": event_type, "n": i, "src_ip": "198.51.100.1"})
            for i in range(start, start + n)]


def numbers(core, event_type="numbered"):
    return sorted(e["raw"]["n"] for e in all_events(core, f"event_type={event_type}"))


def node_log(node):
    path = node.home / "node.debug.log"
    return path.read_text(errors="replace") if path.exists() else ""


def connected_to(node, core):
    """The node says (stats.json) it is registered with `core`."""
    link = node.stats().get("core", {})
    return link.get("connected") and link.get("address") == f"127.0.0.1:{core.node_port}"


@pytest.fixture
def cleanup():
    procs = []
    yield procs.append
    for p in reversed(procs):
        p.kill()


def test_the_first_core_is_dead_the_node_uses_the_second(tmp_path, cleanup):
    dead = free_port()  # nothing listens there
    core = Core(tmp_path / "core-b").start()
    cleanup(core)
    node = Node(tmp_path / "node", [dead, core.node_port], config=NODE_CONFIG).start()
    cleanup(node)
    # At once, not after a backoff: the next core of a round is tried
    # without waiting (the node's first backoff would be ≥ 50 ms anyway;
    # what matters is that it gets there).
    wait_for(lambda: connected_to(node, core), 20, what="the node registered with the second core")
    assert node.stats()["core"]["connect_failures"] >= 1
    assert f"connected to the core 127.0.0.1:{core.node_port} (2 of 2)" in node_log(node)
    assert f"cannot reach the core at 127.0.0.1:{dead} (1 of 2)" in node_log(node)
    node.send_stream(numbered(500))
    wait_for(lambda: stored_total(core) >= 500, 60, what="500 events stored")
    node.wait_stats(lambda s: s["spool"]["pending_events"] == 0, what="the spool emptied")
    assert numbers(core) == list(range(500))


def test_a_killed_core_s_node_goes_on_to_the_next_and_loses_nothing(tmp_path, cleanup):
    core_a = Core(tmp_path / "core-a").start()
    cleanup(core_a)
    core_b = Core(tmp_path / "core-b").start()
    cleanup(core_b)
    node = Node(tmp_path / "node", [core_a.node_port, core_b.node_port], config=NODE_CONFIG).start()
    cleanup(node)
    wait_for(lambda: connected_to(node, core_a), 20, what="the node registered with the first core")

    total = 20_000
    lines = numbered(total)
    with node.connect() as s:
        s.sendall(("\n".join(lines[:10_000]) + "\n").encode())
        wait_for(lambda: stored_total(core_a) > 0, 30, what="some events stored by the first core")
        # Whatever stats.json says was confirmed is a lower bound of what
        # core A confirmed before it died: those events are never resent.
        confirmed_before_kill = node.stats()["spool"]["acked_seq"]
        core_a.kill()  # SIGKILL while events are in flight
        s.sendall(("\n".join(lines[10_000:]) + "\n").encode())

    wait_for(lambda: connected_to(node, core_b), 30, what="the node registered with the second core")
    assert f"connected to the core 127.0.0.1:{core_b.node_port} (2 of 2)" in node_log(node)
    node.wait_stats(lambda s: s["spool"]["next_seq"] == total + 1, what="every event spooled")
    node.wait_stats(lambda s: s["spool"]["pending_events"] == 0, timeout=120, what="the spool emptied by core B")

    core_a.start()  # its database kept what it committed; read it through its API
    in_a, in_b = numbers(core_a), numbers(core_b)
    assert len(in_a) == len(set(in_a)), "core A stored an event twice"
    assert len(in_b) == len(set(in_b)), "core B stored an event twice"
    assert set(in_a) | set(in_b) == set(range(total)), \
        f"missing: {sorted(set(range(total)) - set(in_a) - set(in_b))[:20]}"
    assert in_b, "core B stored nothing: the node never failed over"
    # The node resends from the last confirmed event on, in order: core B
    # holds one unbroken run up to the end, and core A everything before it.
    assert in_b == list(range(in_b[0], total))
    assert set(range(in_b[0])) <= set(in_a)
    # Stored by both: only what core A had committed and not yet confirmed
    # when it died, which is at most the unconfirmed window.
    both = sorted(set(in_a) & set(in_b))
    assert len(both) <= MAX_UNACKED, f"{len(both)} events stored twice"
    if both:
        assert both[0] + 1 > confirmed_before_kill, "an event confirmed by core A was sent again"
        assert both == list(range(both[0], both[-1] + 1))

    # Core A is back: the node stays with core B until that connection drops.
    node.send_stream(numbered(200, event_type="later"))
    wait_for(lambda: stored_total(core_b, "event_type=later") >= 200, 60, what="later events stored by core B")
    assert numbers(core_a, "later") == []
    assert connected_to(node, core_b)
    node.wait_stats(lambda s: s["spool"]["pending_events"] == 0, what="the later events confirmed by core B")

    # Then core B dies: round robin brings the node back to core A.
    core_b.kill()
    wait_for(lambda: connected_to(node, core_a), 30, what="the node back with the first core")
    node.send_stream(numbered(200, event_type="last"))
    wait_for(lambda: stored_total(core_a, "event_type=last") >= 200, 60, what="last events stored by core A")
    node.wait_stats(lambda s: s["spool"]["pending_events"] == 0, what="the spool emptied by core A")
    assert numbers(core_a, "last") == list(range(200))


class AckingPeer:
    """A core that confirms event_ack but acknowledges only when told to, and
    answers the registration only when told to (so that the node has its
    events spooled before it may send any). It records every PotEvent's seq."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.seqs = []
        self.registered = threading.Event()
        self.may_answer = threading.Event()
        self.conn = None
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.conn, _ = self.server.accept()
        pending = b""
        while True:
            data = self.conn.recv(65536)
            if not data:
                return
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                message = json.loads(line)["message"]
                if isinstance(message, dict) and "NodeRegistration" in message:
                    self.node_id = message["NodeRegistration"]["node_id"]
                    self.registered.set()
                    self.may_answer.wait(30)
                    self.send({"RegistrationAck": {"node_id": self.node_id, "accepted": True, "message": None,
                                                   "totp_key": None, "extensions": ["event_ack"]}})
                elif isinstance(message, dict) and "PotEvent" in message:
                    self.seqs.append(message["PotEvent"]["seq"])

    def send(self, message):
        self.conn.sendall(json.dumps({"version": 2, "message": message}).encode() + b"\n")

    def ack(self, seq):
        self.send({"EventAck": {"node_id": self.node_id, "seq": seq}})


def test_the_node_never_has_more_than_max_unacked_events_unconfirmed(tmp_path, cleanup):
    """The bound the failover test relies on, made exact: with 5,000 events
    spooled and a window of 1,500 (not a multiple of the node's batch), the
    core gets 1,500 and no more; an ack for 700 lets exactly 700 more go."""
    peer = AckingPeer()
    window = 1500
    node = Node(tmp_path / "node", peer.port,
                config=f"stats_interval_ms: 50\nmax_unacked_events: {window}\n").start()
    cleanup(node)
    assert peer.registered.wait(20), "the node never registered"
    node.send_stream(numbered(5000))
    node.wait_stats(lambda s: s["spool"]["next_seq"] == 5001, what="5,000 events spooled")
    peer.may_answer.set()

    wait_for(lambda: len(peer.seqs) >= window, 20, what=f"{window} events sent")
    assert len(peer.seqs) == window, f"{len(peer.seqs)} events sent unconfirmed, the window is {window}"
    peer.ack(700)
    wait_for(lambda: len(peer.seqs) >= window + 700, 20, what="700 more events sent")
    assert peer.seqs == list(range(1, window + 700 + 1))


def join_token(core, name):
    r = core.cli("token", "create", "--node", name)
    assert r.returncode == 0, r.stderr
    [token] = re.findall(r"^(hcj1\.\S+)$", r.stdout, re.M)
    return token


def test_enrollment_goes_to_the_core_that_answers_for_the_token(tmp_path, cleanup):
    """A dead address, then a core of another CA (the token is not for it:
    nothing is sent to it), then the token's core: the node enrolls with
    that one and registers over mutual TLS."""
    dead = free_port()
    other = Core(tmp_path / "core-other", node_auth=None).start()  # node_auth: certificate
    cleanup(other)
    core = Core(tmp_path / "core", node_auth=None).start()
    cleanup(core)
    token = join_token(core, "test-node")
    node = Node(tmp_path / "node", [dead, other.node_port, core.node_port],
                config=NODE_CONFIG + f"join_token: {token}\n").start()
    cleanup(node)
    wait_for(lambda: connected_to(node, core), 30, what="the node enrolled and registered with the third core")
    log = node_log(node)
    assert f"not enrolling: the core at 127.0.0.1:{other.node_port} (2 of 3) is not the one" in log
    assert f"enrolled with the core 127.0.0.1:{core.node_port} (3 of 3)" in log
    assert (node.data_dir / "tls" / "node.crt").exists()
    node.send_stream(numbered(100))
    wait_for(lambda: stored_total(core) >= 100, 60, what="events stored over mutual TLS")
    assert stored_total(other) == 0
