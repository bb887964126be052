"""Several cores, one fleet (issue 9): two `honeycomb core` processes on one
PostgreSQL database (a real server, tests/e2e/pg_server.py), two real nodes,
one on each core. Every core's API shows every node and every event; a
command sent through one core reaches the node on the other; each core's
WebSocket stream carries the other core's events; a core killed mid-stream
loses nothing: its node moves to the other core and every event is stored
exactly once."""
import json

import websocket

from conftest import wait_for
from core_peer import Core
from node_proc import Node, all_events, stored_total


def numbered(n, start=0, pot="p", event_type="numbered"):
    return [json.dumps({"pot_id": pot, "event_type": event_type, "n": i, "src_ip": "203.0.113.9"})
            for i in range(start, start + n)]


def start_cores(tmp_path, uri):
    a = Core(tmp_path / "core-a", config=f"database: {uri}\n").start()
    b = Core(tmp_path / "core-b", config=f"database: {uri}\n").start()
    # One database, one set of API tokens: the token the first core printed
    # works on both (the second found tokens and made none).
    (b.data_dir / "api-token").write_text(a.token + "\n")
    return a, b


def node_entry(core, node_id):
    for n in core.get_json("/api/v1/nodes")["nodes"]:
        if str(n["node_id"]) == str(node_id):
            return n
    return None


def test_two_cores_serve_one_fleet(tmp_path, pg_server):
    a, b = start_cores(tmp_path, pg_server.create_database("fleet"))
    node1 = Node(tmp_path / "node-1", a.node_port).start()
    node2 = Node(tmp_path / "node-2", b.node_port).start()
    try:
        # Every core lists both nodes as connected; the one held by the
        # other core says which core it is on.
        for core, here, there in ((a, node1, node2), (b, node2, node1)):
            wait_for(lambda: (node_entry(core, there.node_id) or {}).get("connected") is True, 20,
                     what=f"node {there.node_id} shown connected through the other core")
            assert node_entry(core, there.node_id)["core_id"] is not None
            assert node_entry(core, here.node_id)["core_id"] is None

        # Core A's stream carries the events node 2 sends to core B.
        ws = websocket.create_connection(f"ws://127.0.0.1:{a.ws_port}/api/v1/stream",
                                         header=[f"Authorization: Bearer {a.token}"], timeout=20)
        assert json.loads(ws.recv())["type"] == "hello"
        node2.send_stream(numbered(50, event_type="via-b"))
        seen = set()
        while len(seen) < 50:
            msg = json.loads(ws.recv())
            if msg["type"] == "event" and msg["data"]["event_type"] == "via-b":
                assert str(msg["node_id"]) == str(node2.node_id)
                seen.add(msg["data"]["raw"]["n"])
        ws.close()

        # Every event, whichever core took it, through either core's API.
        node1.send_stream(numbered(500, pot="p1"))
        node2.send_stream(numbered(500, pot="p2"))
        for core in (a, b):
            wait_for(lambda: stored_total(core, "event_type=numbered") == 1000, 60, what="1000 events on both cores")

        # A command through core A reaches node 2 on core B, and its answer
        # comes back; the same the other way round.
        for core, node in ((a, node2), (b, node1)):
            status, body, _ = core.request("POST", f"/api/v1/nodes/{node.node_id}/commands",
                                           {"command": "GetInstalledPots", "timeout_ms": 5000})
            answer = json.loads(body)
            assert status == 200, answer
            assert answer["outcome"] == "answered"
        # An offline node is still offline through any core.
        node2.stop()
        wait_for(lambda: (node_entry(a, node2.node_id) or {}).get("connected") is False, 20,
                 what="node 2 shown offline on core A once it left core B")
        status, body, _ = a.request("POST", f"/api/v1/nodes/{node2.node_id}/commands",
                                    {"command": "GetInstalledPots", "timeout_ms": 2000})
        assert status == 409, body
    finally:
        node1.kill()
        node2.kill()
        a.kill()
        b.kill()


def test_a_core_killed_mid_stream_loses_nothing(tmp_path, pg_server):
    a, b = start_cores(tmp_path, pg_server.create_database("fleet"))
    node = Node(tmp_path / "node", [a.node_port, b.node_port]).start()
    total = 20_000
    lines = numbered(total)
    try:
        wait_for(lambda: (node_entry(a, node.node_id) or {}).get("connected") is True and
                 node_entry(a, node.node_id)["core_id"] is None, 20, what="the node on core A")
        with node.connect() as s:
            s.sendall(("\n".join(lines[:10_000]) + "\n").encode())
            wait_for(lambda: stored_total(b, "event_type=numbered") > 0, 30, what="some events stored")
            a.kill()  # SIGKILL with events in flight
            s.sendall(("\n".join(lines[10_000:]) + "\n").encode())
        # The node moves to core B and sends it what A never acknowledged.
        wait_for(lambda: stored_total(b, "event_type=numbered") >= total, 120, what="every event stored")
        node.wait_stats(lambda st: st["spool"]["pending_events"] == 0, timeout=60, what="spool emptied")
        seen = sorted(e["raw"]["n"] for e in all_events(b, "event_type=numbered"))
        assert seen == list(range(total)), f"{len(seen)} stored, {len(set(seen))} distinct"
        assert node_entry(b, node.node_id)["core_id"] is None  # its session is on B now
    finally:
        node.kill()
        a.kill()
        b.kill()
