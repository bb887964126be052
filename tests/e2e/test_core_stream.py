"""The core's WebSocket stream through the real binary: a node's events and
status changes arrive live, filters apply, auth is required, and a client
that does not read is told what it missed while a reading client gets
everything."""
import json
import signal
import socket
import struct

import pytest
import websocket

from conftest import wait_for
from core_peer import Core, Peer, pot_event


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path / "home", config="ws_client_queue: 64\n")
    c.start()
    yield c
    c.kill()


def connect(core, **kw):
    ws = websocket.create_connection(f"ws://127.0.0.1:{core.ws_port}/api/v1/stream",
                                     header=[f"Authorization: Bearer {core.token}"], timeout=10, **kw)
    hello = json.loads(ws.recv())
    assert hello["type"] == "hello"
    return ws


def recv_until(ws, predicate, limit=1000):
    for _ in range(limit):
        msg = json.loads(ws.recv())
        if predicate(msg):
            return msg
    raise AssertionError("message not received")


def test_auth_required(core):
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(f"ws://127.0.0.1:{core.ws_port}/", header=["Authorization: Bearer hc_bad"],
                                    timeout=10)
    assert e.value.status_code == 401
    # Browsers: the token as the first message.
    ws = websocket.create_connection(f"ws://127.0.0.1:{core.ws_port}/", timeout=10)
    ws.send(json.dumps({"token": core.token}))
    assert json.loads(ws.recv())["type"] == "hello"
    ws.close()


def test_events_and_status_arrive_live_with_filters(core):
    everything = connect(core)
    only_ssh = connect(core)
    only_ssh.send(json.dumps({"filter": {"pot_type": "ssh", "src": "10.0.0.0/8"}}))
    assert json.loads(only_ssh.recv())["type"] == "filter"
    peer = Peer(core.node_port)
    peer.register(71, name="live")
    status = recv_until(everything, lambda m: m["type"] == "node_status")
    assert status["node_id"] == 71
    peer.send({"PotEvent": {"node_id": 71, "pot_id": "c1", "pot_type": "cowrie", "event_type": "login",
                            "timestamp": "2026-11-30T10:00:00Z", "data": {"src_ip": "10.1.2.3", "username": "a"}}})
    peer.send({"PotEvent": {"node_id": 71, "pot_id": "s1", "pot_type": "ssh", "event_type": "login",
                            "timestamp": "2026-11-30T10:00:01Z", "data": {"src_ip": "192.0.2.1", "username": "b"}}})
    peer.send({"PotEvent": {"node_id": 71, "pot_id": "s1", "pot_type": "ssh", "event_type": "login",
                            "timestamp": "2026-11-30T10:00:02Z", "data": {"src_ip": "10.9.9.9", "username": "c"}}})
    got = [recv_until(everything, lambda m: m["type"] == "event") for _ in range(3)]
    assert [m["data"]["username"] for m in got] == ["a", "b", "c"]
    assert got[0]["data"]["src_ip"] == "10.1.2.3" and got[0]["data"]["pot_type"] == "cowrie"
    filtered = recv_until(only_ssh, lambda m: m["type"] == "event")
    assert filtered["data"]["username"] == "c"  # ssh AND 10/8 only


def test_slow_client_is_told_what_it_missed(core):
    fast = connect(core)
    slow = connect(core)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    peer = Peer(core.node_port)
    peer.register(72)
    total = 5000
    big = "x" * 2000
    # Sent in rounds of 50, each round read by the fast client before the
    # next (its queue holds 64): it keeps up; the slow one never reads.
    seen = []
    for start in range(0, total, 50):
        for i in range(start, start + 50):
            peer.send(pot_event(72, event_id=f"e{i}", data={"src_ip": "192.0.2.7", "input": big, "n": i}))
        while len(seen) < start + 50:
            m = json.loads(fast.recv())
            assert m["type"] != "missed", m
            if m["type"] == "event":
                seen.append(m["data"]["raw"]["n"])
    assert seen == list(range(total))
    # The one that did not read was not waited for: it is told it missed some.
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # now read at full speed
    missed = recv_until(slow, lambda m: m["type"] == "missed", limit=total + 10)
    assert missed["count"] > 0
    # Every event was stored all the same.
    wait_for(lambda: core.metric("honeycomb_events_stored_total") >= total, 60, what="all events stored")


def test_clients_get_a_going_away_close_frame_when_the_core_stops(core):
    """RFC 6455 1001: a dashboard can tell a core shutdown from a network
    failure and reconnect later."""
    clients = [connect(core) for _ in range(3)]
    core.proc.send_signal(signal.SIGINT)
    for ws in clients:
        opcode, data = None, b""
        for _ in range(100):  # skip any data frame still queued before the close
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert struct.unpack("!H", data[:2])[0] == 1001
        ws.close()
    assert core.proc.wait(timeout=20) == 0
