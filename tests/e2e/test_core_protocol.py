"""Protocol v2 conformance of `honeycomb core`, with a raw-socket peer that
sends exactly what the public implementations send (spec §2 and §4):
framing edge cases, every accepted form, u64 node ids, malformed and
oversized input, the Go node's quirks, registry lifecycle and persistence."""
import json
import threading

import pytest

from conftest import wait_for
from core_peer import Core, Peer, envelope, pot_event

BIG_ID = 16298147445003569694  # a real Go node id, above 2^63
MAX_ID = 18446744073709551615


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path / "home", config="heartbeat_ms: 400\nmax_envelope_bytes: 65536\nmax_malformed_per_peer: 5\n")
    c.start()
    yield c
    c.kill()


def test_registration_ack_status_and_u64_ids(core):
    for node_id in (BIG_ID, MAX_ID):
        peer = Peer(core.node_port)
        ack = peer.register(node_id, name=f"n{node_id}")
        assert ack["accepted"] is True
        assert ack["node_id"] == node_id  # exact: parsed and written as uint64
        node = wait_for(lambda: core.node(node_id), what="the node in the API")
        assert node["node_id"] == node_id
        # Unknown until its first status.
        assert node["status"] == "Unknown"
        peer.send({"NodeStatusUpdate": {"node_id": node_id, "status": "Running"}})
        wait_for(lambda: core.node(node_id)["status"] == "Running", what="status Running")
        peer.close()
    ids = {n["node_id"] for n in core.get_json("/api/v1/nodes")["nodes"]}
    assert {BIG_ID, MAX_ID} <= ids


def test_framing_several_per_read_split_and_no_trailing_newline(core):
    peer = Peer(core.node_port)
    # Registration + status + two events in ONE write, the last without '\n'.
    data = envelope({"NodeRegistration": {"node_id": 7, "node_name": "f", "address": "a", "port": 1,
                                          "node_type": "Agent"}})
    data += envelope({"NodeStatusUpdate": {"node_id": 7, "status": "Running"}})
    data += envelope(pot_event(7, event_id="ev-1"))
    data += envelope(pot_event(7, event_id="ev-2")).rstrip(b"\n")
    peer.send_raw(data)
    assert "RegistrationAck" in peer.recv()["message"]
    # One envelope split across many writes, byte by byte at the start.
    split = envelope(pot_event(7, event_id="ev-3", data={"src_ip": "198.51.100.9", "input": "uname -a"}))
    for i in range(0, 40):
        peer.send_raw(split[i:i + 1])
    peer.send_raw(split[40:])
    # Two envelopes glued without any separator.
    glued = envelope(pot_event(7, event_id="ev-4")).rstrip(b"\n") + envelope(pot_event(7, event_id="ev-5"))
    peer.send_raw(glued)
    events = wait_for(lambda: (e := core.events("?node=7")) and len(e) == 5 and e, what="5 events stored")
    assert sorted(e["event_id"] for e in events) == ["ev-1", "ev-2", "ev-3", "ev-4", "ev-5"]
    e3 = next(e for e in events if e["event_id"] == "ev-3")
    assert e3["src_ip"] == "198.51.100.9" and e3["command"] == "uname -a"
    assert e3["pot_id"] == "cowrie-01" and e3["pot_type"] == "cowrie" and e3["node_id"] == 7
    assert e3["raw"]["input"] == "uname -a"
    assert core.node(7)["status"] == "Running"


@pytest.mark.parametrize("drop", ['"NodeDrop"', '{"NodeDrop":{}}', '{"NodeDrop":null}'])
def test_node_drop_every_form(core, drop):
    peer = Peer(core.node_port)
    peer.register(11)
    peer.send({"NodeStatusUpdate": {"node_id": 11, "status": "Running"}})
    wait_for(lambda: core.node(11)["status"] == "Running", what="Running")
    peer.send_raw(b'{"version":2,"message":' + drop.encode() + b"}\n")
    assert peer.closed_by_peer(), "the core keeps the connection after NodeDrop"
    node = wait_for(lambda: (n := core.node(11)) and not n["connected"] and n, what="node disconnected")
    assert node["status"] == "Offline"  # left cleanly: offline, not lost


def test_go_node_quirks(core):
    peer = Peer(core.node_port)
    peer.register(BIG_ID, name="go-node")
    # Unit variants as empty objects, NodeEvent in the Go form.
    peer.send({"NodeEvent": {"type": "Started"}})
    peer.send({"NodeEvent": {"type": "Error", "message": "pot crashed"}})
    # An event line forwarded as PotStatusUpdate with an empty status.
    peer.send({"PotStatusUpdate": {"node_id": BIG_ID, "pot_id": "sensor-1", "pot_type": "", "status": "",
                                   "message": "login attempt [root/123456] failed"}})
    # The Go node's PotEvent shape: event, message, string metadata, unix seconds.
    peer.send({"PotEvent": {"node_id": BIG_ID, "pot_id": "sensor-1", "event": "cowrie.login.failed",
                            "message": "login attempt", "metadata": {"src_ip": "192.0.2.1", "username": "admin",
                                                                     "password": "admin", "src_port": "4242"},
                            "timestamp": 1764496800}})
    # Go escapes <, >, & as \u003c...
    peer.send_raw(b'{"version":2,"message":{"PotEvent":{"node_id":' + str(BIG_ID).encode() +
                  b',"pot_id":"sensor-1","event":"cowrie.command.input","metadata":{"input":"echo \\u003cscript\\u003e \\u0026"},'
                  b'"timestamp":1764496801}}}\n')
    # A heartbeat proves the connection is still up after all of it.
    peer.send({"NodeStatusUpdate": {"node_id": BIG_ID, "status": "Running"}})
    wait_for(lambda: core.node(BIG_ID)["status"] == "Running", what="still connected and Running")
    events = wait_for(lambda: (e := core.events(f"?node={BIG_ID}")) and len(e) == 3 and e, what="3 events")
    login = next(e for e in events if e["event_type"] == "cowrie.login.failed")
    assert login["src_ip"] == "192.0.2.1" and login["username"] == "admin" and login["src_port"] == 4242
    assert login["time"].startswith("2025-11-30T10:00:00")
    cmd = next(e for e in events if e["event_type"] == "cowrie.command.input")
    assert cmd["command"] == "echo <script> &"
    status_msg = next(e for e in events if e["event_type"] == "pot_message")
    assert status_msg["message"] == "login attempt [root/123456] failed"
    pots = {p["pot_id"]: p for p in core.node(BIG_ID)["honeypots"]}
    assert pots["sensor-1"]["status"] == "Unknown"


def test_malformed_oversized_and_garbage(core):
    good = Peer(core.node_port)
    good.register(21)
    bad = Peer(core.node_port)
    bad.register(22)
    before = core.metric("honeycomb_node_malformed_messages_total")
    # An envelope over max_envelope_bytes (64 KiB here): a protocol error for
    # that peer only; the next line is still read.
    big = pot_event(22, event_id="big", data={"input": "A" * 100_000})
    bad.send_raw(envelope(big))
    bad.send(pot_event(22, event_id="after-big"))
    wait_for(lambda: [e for e in core.events("?node=22") if e["event_id"] == "after-big"], what="event after oversize")
    assert not [e for e in core.events("?node=22") if e["event_id"] == "big"]
    # Unknown variants, wrong types, a negative id: counted, not fatal...
    bad.send({"NoSuchVariant": {}})
    bad.send({"NodeStatusUpdate": {"node_id": -1, "status": "Running"}})
    bad.send_raw(b"\n\n   \n")  # blank lines are ignored, not errors
    wait_for(lambda: core.metric("honeycomb_node_malformed_messages_total") >= before + 3, what="malformed counted")
    # ...until repeated garbage disconnects that peer.
    bad.send_raw(b"garbage\n" * 10)
    assert bad.closed_by_peer(), "repeated garbage did not disconnect the peer"
    # The other node never noticed.
    good.send(pot_event(21, event_id="good-1"))
    wait_for(lambda: core.events("?node=21"), what="the good node's event")
    good.send({"NodeStatusUpdate": {"node_id": 21, "status": "Running"}})
    wait_for(lambda: core.node(21)["status"] == "Running", what="good node running")


def test_messages_before_registration_and_wrong_direction(core):
    peer = Peer(core.node_port)
    peer.send(pot_event(31, event_id="early"))  # before NodeRegistration: refused
    ack = peer.register(31)
    assert ack["accepted"]
    peer.send({"NodeCommand": {"node_id": 31, "command": "Restart"}})  # core-bound only
    peer.send(pot_event(31, event_id="late"))
    events = wait_for(lambda: core.events("?node=31"), what="the registered event")
    assert [e["event_id"] for e in events] == ["late"]


def test_duplicate_event_ids_stored_once(core):
    peer = Peer(core.node_port)
    peer.register(41)
    for _ in range(3):
        peer.send(pot_event(41, event_id="same-id"))
    peer.send(pot_event(41, event_id="other"))
    wait_for(lambda: [e for e in core.events("?node=41") if e["event_id"] == "other"], what="events stored")
    assert sorted(e["event_id"] for e in core.events("?node=41")) == ["other", "same-id"]


def test_lost_node_and_reconnect_resumes_record(core):
    peer = Peer(core.node_port)
    peer.register(51, name="first-name")
    peer.send({"NodeStatusUpdate": {"node_id": 51, "status": "Running"}})
    first = wait_for(lambda: (n := core.node(51)) and n["status"] == "Running" and n, what="Running")
    # Silent for three heartbeat intervals (400 ms here): lost.
    wait_for(lambda: core.node(51)["status"] == "Lost", timeout=10, what="node shown lost")
    # The same node_id on a new connection resumes the record.
    again = Peer(core.node_port)
    again.register(51, name="second-name")
    node = wait_for(lambda: (n := core.node(51)) and n["connected"] and n["name"] == "second-name" and n,
                    what="record resumed")
    assert node["first_seen"] == first["first_seen"]
    assert node["status"] == "Unknown"  # until its first status on this connection
    assert len([n for n in core.get_json("/api/v1/nodes")["nodes"] if n["node_id"] == 51]) == 1
    # The old connection is closed (a node speaks on one connection).
    assert peer.closed_by_peer()


def test_registry_and_events_survive_restart(tmp_path):
    core = Core(tmp_path / "home").start()
    try:
        token = core.token
        peer = Peer(core.node_port)
        peer.register(BIG_ID, name="persisted")
        peer.send({"NodeStatusUpdate": {"node_id": BIG_ID, "status": "Running"}})
        peer.send({"PotStatusUpdate": {"node_id": BIG_ID, "pot_id": "ssh-1", "pot_type": "ssh", "status": "Running"}})
        peer.send(pot_event(BIG_ID, pot_id="ssh-1", event_id="kept"))
        wait_for(lambda: core.events(f"?node={BIG_ID}"), what="event stored")
        wait_for(lambda: core.node(BIG_ID)["honeypots"], what="pot registered")
        assert core.stop() == 0
        peer.close()
        core.start()
        assert core.token == token  # no new token on a restart
        # The banner is printed once the ports are open: wait for the second one.
        out = wait_for(lambda: (o := core.output()).count("honeycomb core is running") == 2 and o,
                       what="the second start's banner")
        assert "first start" not in out.split("honeycomb core is running")[-1]
        node = core.node(BIG_ID)
        assert node is not None and node["name"] == "persisted" and not node["connected"]
        assert [p["pot_id"] for p in node["honeypots"]] == ["ssh-1"]
        assert [e["event_id"] for e in core.events(f"?node={BIG_ID}")] == ["kept"]
    finally:
        core.kill()


def events_with_seq(node_id, first, last):
    data = b""
    for seq in range(first, last + 1):
        data += envelope(pot_event(node_id, event_id=f"{node_id}-{seq}", seq=seq,
                                   data={"src_ip": "203.0.113.7", "n": seq}))
    return data


def acks_until(peer, seq):
    """The EventAck seqs the core sends until one reaches `seq` (each in turn
    higher: cumulative and coalesced)."""
    seen = []
    while not seen or seen[-1] < seq:
        msg = peer.recv()["message"]
        assert "EventAck" in msg, msg
        seen.append(msg["EventAck"]["seq"])
        assert msg["EventAck"]["node_id"] == BIG_ID
        assert len(seen) < 2 or seen[-1] > seen[-2], seen
    assert seen[-1] == seq, seen
    return seen


def test_event_ack_extension(core):
    """docs/PROTOCOL.md, extension event_ack: announced at registration,
    EventAck once the events are stored, a replay stored once."""
    peer = Peer(core.node_port)
    ack = peer.register(BIG_ID, extensions=["event_ack", "some_future_extension"])
    assert ack["extensions"] == ["event_ack"]
    # 500 events in a few writes: acks arrive, the last names seq 500.
    data = events_with_seq(BIG_ID, 1, 500)
    for i in range(0, len(data), 16384):
        peer.send_raw(data[i:i + 16384])
    acks_until(peer, 500)
    # Acknowledged means stored: all 500 are in the database now.
    assert len(core.events(f"?node={BIG_ID}&limit=1000")) == 500
    assert core.metric("honeycomb_events_stored_total") == 500
    # The node lost its connection before it saw the last acks: it resends
    # 401..500 on a new connection; they are acknowledged and stored once.
    peer.close()
    again = Peer(core.node_port)
    assert again.register(BIG_ID, extensions=["event_ack"])["extensions"] == ["event_ack"]
    again.send_raw(events_with_seq(BIG_ID, 401, 510))
    acks_until(again, 510)
    assert len(core.events(f"?node={BIG_ID}&limit=1000")) == 510
    assert core.metric("honeycomb_events_duplicates_total") == 100


def test_no_event_ack_for_a_node_that_did_not_announce_it(core):
    """A public node never sees the extension: no `extensions` in its ack and
    no EventAck, even if its events carry a seq."""
    peer = Peer(core.node_port)
    ack = peer.register(77)
    assert "extensions" not in ack
    peer.send_raw(events_with_seq(77, 1, 20))
    wait_for(lambda: len(core.events("?node=77")) == 20, what="20 events stored")
    # Anything the core sent after the events would come before this command.
    result = []
    t = threading.Thread(target=lambda: result.append(
        core.request("POST", "/api/v1/nodes/77/commands", {"command": "Restart"})))
    t.start()
    msg = peer.recv()["message"]
    assert "NodeCommand" in msg, f"expected only the command, got {msg}"
    peer.send({"NodeEvent": "Started"})
    t.join(30)
    assert result[0][0] == 200
    # An EventAck sent by a node is a protocol error for that node only.
    peer.send({"EventAck": {"node_id": 77, "seq": 1}})
    wait_for(lambda: core.metric("honeycomb_node_malformed_messages_total") >= 1, what="the malformed message counted")
