"""The node's local outputs (docs/OUTPUTS.md): integrations fed every event
from the spool, for a standalone sensor or beside the core. A real rsyslogd
for syslog; json_file into a file. Events leave the spool only once the core
and every output are done with them; an output that is down holds them."""
import json
import subprocess

import pytest

from conftest import free_port, read_json_lines, wait_for
from core_peer import Core
from node_proc import Node, stored_total
from rsyslog_server import RsyslogServer

FAST = "stats_interval_ms: 50\nheartbeat_ms: 500\nreconnect_min_ms: 50\n"


def events(first, count):
    return [json.dumps({"pot_id": "out-01", "eventid": "cowrie.login.failed", "username": f"user{i}",
                        "src_ip": "198.51.100.7", "n": i}) for i in range(first, first + count)]


def json_file_output(path):
    return f"outputs:\n  - integration: json_file\n    args: {{filepath: {path}}}\n"


def test_standalone_sensor_writes_every_event_once_across_restarts(tmp_path):
    out = tmp_path / "events.json"
    node = Node(tmp_path / "node-home", None, config=FAST + json_file_output(out)).start()
    try:
        node.send_stream(events(0, 300))
        wait_for(lambda: len(read_json_lines(out)) == 300, 30, what="300 events in the file")
        # Delivered: the outputs were the only consumer, so the spool is empty.
        node.wait_stats(lambda s: s["spool"]["pending_events"] == 0 and s["outputs"]["position"] == 300,
                        what="the spool released by the outputs")
        assert node.stop() == 0
        node.start()
        node.send_each(events(300, 5))
        wait_for(lambda: len(read_json_lines(out)) == 305, 30, what="305 events in the file")
    finally:
        node.kill()
    lines = read_json_lines(out)
    numbers = [line["data"]["n"] for line in lines]
    # The stream's events in order; the five after the restart came on five
    # connections, which the node may read in any order. None twice or lost.
    assert numbers[:300] == list(range(300)) and sorted(numbers) == list(range(305)), numbers[295:]
    first = lines[0]
    assert first["pot_id"] == "out-01" and first["event_type"] == "cowrie.login.failed"
    assert first["data"]["username"] == "user0" and first["event_id"].endswith("-1")


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path / "core-home").start()
    yield c
    c.kill()


def test_beside_the_core_a_down_output_holds_events_in_the_spool(tmp_path, core):
    server = RsyslogServer(tmp_path / "rsyslog", tcp_port=free_port())
    out = tmp_path / "events.json"
    config = FAST + json_file_output(out) + (
        f"  - integration: syslog\n    args: {{protocol: tcp, address: 127.0.0.1, port: {server.tcp_port}, timeout: 1}}\n")
    node = Node(tmp_path / "node-home", core.node_port, config=config).start()
    try:
        node.send_stream(events(0, 50))
        # The core has them all; syslog is down, so they stay spooled and the
        # file (an output before syslog in the list) got them once.
        wait_for(lambda: stored_total(core) == 50, 30, what="50 events in the core")
        wait_for(lambda: len(read_json_lines(out)) == 50, 30, what="50 events in the file")
        stats = node.wait_stats(lambda s: s["outputs"]["failures"] > 0, what="the syslog output failing")
        assert stats["spool"]["pending_events"] == 50 and stats["outputs"]["position"] == 0
        # rsyslog comes up: the output catches up, then the spool is released.
        server.start()
        for i in (0, 49):
            server.wait_line(lambda l, i=i: f'"username": "user{i}"' in l, timeout=60, what=f"event {i} at rsyslog")
        node.wait_stats(lambda s: s["spool"]["pending_events"] == 0 and s["outputs"]["position"] == 50,
                        what="the spool released once every consumer is done")
        assert len(read_json_lines(out)) == 50 and stored_total(core) == 50
        assert len([l for l in server.lines() if "cowrie.login.failed" in l]) == 50
    finally:
        node.kill()
        server.kill()


def test_a_bad_output_stops_the_node_at_start_with_a_clear_error(tmp_path):
    for config, named in [
        ("outputs:\n  - integration: carrier_pigeon\n", "carrier_pigeon"),
        ("outputs:\n  - integration: syslog\n    args: {protocol: sctp, address: 127.0.0.1}\n", "protocol"),
        ("outputs:\n  - integration: json_file\n    args: {colour: blue}\n", "colour"),
        ("outputs:\n  - args: {filepath: /tmp/x}\n", "needs an integration"),
    ]:
        n = Node(tmp_path / f"home-{named.split()[0]}", None, config=config)
        r = subprocess.run(n.argv("node", "--config", n.config_file, "--core", "none", "--event-listen",
                                  "127.0.0.1:0"), capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, config
        assert named in r.stderr, (config, r.stderr)
