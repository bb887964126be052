"""`honeycomb core` as an operator uses it: --gen-config, the first token,
authentication, token create/revoke from the CLI, commands sent to a node
through the API and answered (or not) by it, and configuration errors."""
import json
import os
import stat
import subprocess
import threading

import pytest

from conftest import BIN, wait_for
from core_peer import Core, Peer


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path / "home", config="command_timeout_seconds: 5\n")
    c.start()
    yield c
    c.kill()


def test_the_core_on_sqlite_runs_in_the_small_executable(tmp_path, core):
    # `honeycomb core` parses its command line and configuration, then execs
    # honeycomb-core (static: no shared C++ runtime or SQLite at idle), same
    # pid; the core it runs answers as the one in honeycomb does.
    exe = os.readlink(f"/proc/{core.proc.pid}/exe")
    assert os.path.basename(exe) == "honeycomb-core"
    if os.environ.get("HONEYCOMB_SMALL_STATIC", "1") == "1":  # sanitizer builds link it dynamically
        with open(f"/proc/{core.proc.pid}/maps") as maps:
            mapped = maps.read()
        assert "libstdc++" not in mapped and "libsqlite3" not in mapped
    assert "honeycomb core is running" in core.output()
    assert core.get_json("/api/v1/nodes")["nodes"] == []
    # HONEYCOMB_SMALL_EXEC=0 keeps it in honeycomb, on the same store.
    core.stop()
    again = Core(core.home, config=core.config_file.read_text(), env={**os.environ, "HONEYCOMB_SMALL_EXEC": "0"})
    again.start()
    try:
        assert os.path.basename(os.readlink(f"/proc/{again.proc.pid}/exe")) == "honeycomb"
        assert again.get_json("/api/v1/nodes")["nodes"] == []
    finally:
        again.kill()


def test_honeycomb_core_alone_refuses_a_postgres_store(tmp_path):
    # A static executable cannot load libpq: `honeycomb core` keeps a core on
    # PostgreSQL in itself, and honeycomb-core run by hand says so.
    small = os.path.join(os.path.dirname(BIN), "honeycomb-core")
    config = tmp_path / "core.yml"
    config.write_text("database: postgresql://nobody@127.0.0.1:1/none\n")
    r = subprocess.run([small, "--home", str(tmp_path / "home"), "--iamroot", "core", "--config", str(config)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "run `honeycomb core` instead" in r.stderr


def test_gen_config_is_a_valid_config(tmp_path):
    r = subprocess.run([BIN, "--home", str(tmp_path), "--iamroot", "core", "--gen-config"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "node_listen:" in r.stdout and "retention_days:" in r.stdout
    cfg = tmp_path / "core.yml"
    cfg.write_text(r.stdout)
    c = Core(tmp_path / "home2", config=r.stdout)
    c.start()
    try:
        assert c.request("GET", "/health", token=None)[0] == 200
    finally:
        c.kill()


@pytest.mark.parametrize("config,message", [
    ("node_listen: 'nowhere'\n", "node_listen"),
    ("heartbeat_seconds: -3\n", "heartbeat_seconds"),
    ("no_such_key: 1\n", "no_such_key: unknown key"),
    ("[unclosed\n", "invalid YAML"),
])
def test_bad_config_is_reported_with_the_key(tmp_path, config, message):
    cfg = tmp_path / "core.yml"
    cfg.write_text(config)
    r = subprocess.run([BIN, "--home", str(tmp_path), "--iamroot", "core", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert message in r.stderr and str(cfg) in r.stderr
    assert "Traceback" not in r.stderr and "terminate" not in r.stderr


def test_first_start_prints_token_once_and_stores_it_0600(core):
    # Printed once the ports are open, so maybe just after Core.start() saw them.
    out = wait_for(lambda: (o := core.output()) and "first start: API token created" in o and o,
                   what="the first-start token message")
    token = core.token
    assert token in out
    mode = stat.S_IMODE(os.stat(core.data_dir / "api-token").st_mode)
    assert mode == 0o600


def test_auth_required_except_health(core):
    status, body, _ = core.request("GET", "/health", token=None)
    assert status == 200 and json.loads(body) == {"status": "ok"}
    for path in ("/api/v1/nodes", "/api/v1/honeypots", "/api/v1/events", "/metrics"):
        status, body, headers = core.request("GET", path, token=None)
        assert status == 401, path
        assert "Bearer" in headers.get("WWW-Authenticate", "")
        assert json.loads(body)["status"] == 401
        assert core.request("GET", path, token="hc_wrong")[0] == 401
        assert core.request("GET", path)[0] == 200


def test_tokens_created_and_revoked_from_the_cli(core):
    r = core.cli("token", "create", "grafana")
    assert r.returncode == 0, r.stderr
    new_token = r.stdout.strip().splitlines()[-1].strip()
    assert new_token.startswith("hc_") and new_token != core.token
    assert core.request("GET", "/api/v1/nodes", token=new_token)[0] == 200
    listing = core.cli("token", "list")
    assert "grafana" in listing.stdout and "initial" in listing.stdout and new_token not in listing.stdout
    assert core.cli("token", "revoke", "grafana").returncode == 0
    wait_for(lambda: core.request("GET", "/api/v1/nodes", token=new_token)[0] == 401, timeout=10,
             what="the revoked token refused")
    assert core.request("GET", "/api/v1/nodes")[0] == 200  # the others still work
    r = core.cli("token", "revoke", "no-such-token")
    assert r.returncode == 1 and "no active token" in r.stderr


def post_command(core, node_id, body, result):
    result.append(core.request("POST", f"/api/v1/nodes/{node_id}/commands", body))


def test_command_reaches_the_node_and_returns_its_answer(core):
    peer = Peer(core.node_port)
    peer.register(61)
    result = []
    t = threading.Thread(target=post_command, args=(core, 61, {"command": "StopPot", "pot_id": "ssh-1"}, result))
    t.start()
    msg = peer.recv()["message"]
    # The Go node's expected forms: newtype with the pot id, unit as {}.
    assert msg == {"NodeCommand": {"node_id": 61, "command": {"StopPot": "ssh-1"}}}
    peer.send({"PotStatusUpdate": {"node_id": 61, "pot_id": "ssh-1", "pot_type": "ssh", "status": "Stopped"}})
    t.join(30)
    status, body, _ = result[0]
    assert status == 200, body
    answer = json.loads(body)
    assert answer["outcome"] == "answered"
    assert answer["replies"][0]["PotStatusUpdate"]["status"] == "Stopped"


def test_every_command_is_delivered(core):
    peer = Peer(core.node_port)
    peer.register(62)
    commands = [
        ({"command": "Restart"}, {"Restart": {}}),
        ({"command": "UpdateConfig"}, {"UpdateConfig": {}}),
        ({"command": "GetInstalledPots"}, {"GetInstalledPots": {}}),
        ({"command": "DeployPot", "pot_id": "p"}, {"DeployPot": "p"}),
        ({"command": "RestartPot", "pot_id": "p"}, {"RestartPot": "p"}),
        ({"command": "GetPotStatus", "pot_id": "p"}, {"GetPotStatus": "p"}),
        ({"command": "GetPotInfo", "pot_id": "p"}, {"GetPotInfo": "p"}),
        ({"command": "GetPotLogs", "pot_id": "p"}, {"GetPotLogs": "p"}),
        ({"command": "GetPotMetrics", "pot_id": "p"}, {"GetPotMetrics": "p"}),
        ({"command": "InstallPot", "install": {"pot_id": "p", "honeypot_type": "cowrie", "auto_start": True}},
         {"InstallPot": {"pot_id": "p", "honeypot_type": "cowrie", "auto_start": True}}),
    ]
    for body, wire in commands:
        result = []
        t = threading.Thread(target=post_command, args=(core, 62, body, result))
        t.start()
        got = peer.recv()["message"]["NodeCommand"]["command"]
        assert got == wire, body
        # Answer as a node would: pot commands with a pot status, node
        # commands with a node event.
        status = {"node_id": 62, "pot_id": "p", "pot_type": "cowrie", "status": "Running"}
        if body["command"] in ("GetPotInfo", "GetPotLogs", "GetPotMetrics"):
            # A status change of the same pot crossing the command is not its
            # answer: these are answered with a JSON document in `message`.
            peer.send({"PotStatusUpdate": dict(status, message="exited with code 1; restarting in 1.0 s")})
            peer.send({"PotStatusUpdate": dict(status, message='{"pot_id":"p"}')})
        elif "pot_id" in body or body["command"] in ("InstallPot", "GetInstalledPots"):
            peer.send({"PotStatusUpdate": status})
        else:
            peer.send({"NodeEvent": "Started"})
        t.join(30)
        assert result[0][0] == 200, (body, result[0])
        if body["command"] in ("GetPotInfo", "GetPotLogs", "GetPotMetrics"):
            [reply] = json.loads(result[0][1])["replies"]
            assert reply["PotStatusUpdate"]["message"] == '{"pot_id":"p"}', body


def test_command_errors(core):
    # Unknown node.
    status, body, _ = core.request("POST", "/api/v1/nodes/999/commands", {"command": "Restart"})
    assert status == 404 and "999" in json.loads(body)["error"]
    # Known but offline.
    peer = Peer(core.node_port)
    peer.register(63)
    peer.send('NodeDrop')
    wait_for(lambda: not core.node(63)["connected"], what="node offline")
    status, body, _ = core.request("POST", "/api/v1/nodes/63/commands", {"command": "Restart"})
    assert status == 409 and "not connected" in json.loads(body)["error"]
    # Connected but silent: a timeout.
    quiet = Peer(core.node_port)
    quiet.register(64)
    status, body, _ = core.request("POST", "/api/v1/nodes/64/commands",
                                   {"command": "GetPotStatus", "pot_id": "x", "timeout_ms": 300})
    assert status == 504 and "did not answer" in json.loads(body)["error"]
    assert quiet.recv()["message"]["NodeCommand"]["command"] == {"GetPotStatus": "x"}  # delivered, not answered
    # Not a command.
    status, _, _ = core.request("POST", "/api/v1/nodes/64/commands", {"command": "FormatDisk"})
    assert status == 400
    # An unknown command answered by the node with NodeEvent Error.
    result = []
    t = threading.Thread(target=post_command, args=(core, 64, {"command": "GetPotLogs", "pot_id": "x"}, result))
    t.start()
    assert quiet.recv()["message"]["NodeCommand"]["command"] == {"GetPotLogs": "x"}
    quiet.send({"NodeEvent": {"Error": {"message": "unknown command"}}})
    t.join(30)
    assert result[0][0] == 200
    assert json.loads(result[0][1])["replies"][0]["NodeEvent"]["Error"]["message"] == "unknown command"
