"""A core on PostgreSQL (issue 9): `database: postgresql://...` in core.yml,
a real server started by the test (tests/e2e/pg_server.py), a real node.
Events, nodes and tokens land in PostgreSQL and survive a core restart; the
database killed and brought back mid-stream loses nothing and stores
nothing twice (the nodes keep what was not acknowledged and resend it)."""
import json
import os
import threading

import pytest

from conftest import wait_for
from core_peer import Core
from node_proc import Node, all_events, stored_total


def numbered(n, start=0, pot="p"):
    return [json.dumps({"pot_id": pot, "event_type": "numbered", "n": i, "src_ip": "198.51.100.7",
                        "username": "root", "password": f"pw{i % 5}"})
            for i in range(start, start + n)]


def assert_exactly_once(core, n):
    seen = sorted(e["raw"]["n"] for e in all_events(core, "event_type=numbered"))
    assert seen == list(range(n)), f"{len(seen)} stored, {len(set(seen))} distinct, expected {n}"


def wait_stored(core, n, timeout=60):
    wait_for(lambda: stored_total(core, "event_type=numbered") >= n, timeout, what=f"{n} events stored")
    return stored_total(core, "event_type=numbered")


def pg_core(tmp_path, uri, name="core-home", extra=""):
    return Core(tmp_path / name, config=f"database: {uri}\n{extra}")


def test_core_on_postgres_stores_events_nodes_and_tokens(tmp_path, pg_server):
    uri = pg_server.create_database("fleet")
    core = pg_core(tmp_path, uri).start()
    # libpq is loaded at run time: this core stays in honeycomb, not honeycomb-core.
    assert os.path.basename(os.readlink(f"/proc/{core.proc.pid}/exe")) == "honeycomb"
    node = Node(tmp_path / "node-home", core.node_port).start()
    try:
        node.send_stream(numbered(1000))
        assert wait_stored(core, 1000) == 1000
        node.wait_stats(lambda s: s["spool"]["pending_events"] == 0, what="every event acknowledged")
        assert_exactly_once(core, 1000)
        # Where they are: in PostgreSQL, in a day partition of `events`.
        assert pg_server.psql("SELECT count(*) FROM events", database="fleet").strip() == "1000"
        assert "events_p" in pg_server.psql(
            "SELECT string_agg(c.relname, ',') FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass", database="fleet")
        # The API reads them back with every filter as on SQLite.
        stats = core.get_json("/api/v1/stats?event_type=numbered")
        assert stats["total"] == 1000
        assert stats["top_src_ips"][0] == {"value": "198.51.100.7", "count": 1000}
        assert {c["value"] for c in stats["top_passwords"]} == {f"pw{i}" for i in range(5)}
        attacker = core.get_json("/api/v1/attackers/198.51.100.7")
        assert attacker["event_count"] == 1000
        assert core.get_json("/api/v1/events?src=198.51.100.0/24&limit=5")["events"][0]["raw"]["n"] == 999
        wait_for(lambda: any(n["node_id"] == str(node.node_id) or n["node_id"] == node.node_id
                             for n in core.get_json("/api/v1/nodes")["nodes"]), what="the node listed")
        # The log says which database, without its password.
        assert "postgresql://honeycomb@127.0.0.1" in core.output()

        # A restarted core finds everything in the database: events, the
        # node, and the API token it printed the first time.
        core.stop()
        core.start()
        assert stored_total(core, "event_type=numbered") == 1000
        assert any(str(n["node_id"]) == str(node.node_id) for n in core.get_json("/api/v1/nodes")["nodes"])
    finally:
        node.kill()
        core.kill()


# With several writers the commits that fail and those that succeed
# interleave; their acknowledgements must still go to the node in order.
@pytest.mark.parametrize("writers", [1, 3])
def test_database_killed_and_back_mid_stream_loses_nothing(tmp_path, pg_server, writers):
    uri = pg_server.create_database(f"fleet{writers}")
    core = pg_core(tmp_path, uri, extra=f"ingest_writers: {writers}\n").start()
    node = Node(tmp_path / "node-home", core.node_port).start()
    total = 20_000
    lines = numbered(total)
    try:
        with node.connect() as s:
            s.sendall(("\n".join(lines[:5_000]) + "\n").encode())
            wait_for(lambda: stored_total(core) > 0, 30, what="some events stored")
            pg_server.kill()  # the database dies with events in flight
            # Events keep coming while it is down: the node takes them all.
            sender = threading.Thread(target=lambda: s.sendall(("\n".join(lines[5_000:]) + "\n").encode()))
            sender.start()
            sender.join(60)
            assert not sender.is_alive()
        node.wait_stats(lambda st: st["spool"]["next_seq"] == total + 1, what="every event spooled")
        pg_server.resume()
        wait_stored(core, total, timeout=180)
        node.wait_stats(lambda st: st["spool"]["pending_events"] == 0, timeout=120, what="spool emptied")
        assert_exactly_once(core, total)
        assert core.proc.poll() is None, "the core must ride the outage out"
    finally:
        node.kill()
        core.kill()
