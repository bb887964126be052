"""The node's pot manager end to end, driven the way an operator does: pot
commands through the core's REST API (POST /api/v1/nodes/{id}/commands) to a
real node, which installs pots from the shipped potstore catalog, runs them
as child processes and forwards their events through its own event port to
the core's store.

Pots used: `example-python-pot` (an external honeypot from a folder, and from
a git repository made here), `simple_http` (a built-in Honeycomb service run
with the honeybee integration), `banner`, `telnet`, `ftp`, `ssh` and `http`
(the built-in honeypots, each reporting a login to the core), `py_http` (a
Python Honeycomb plugin, from a plugin library made here)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, port_open, wait_for
from core_peer import Core
from node_proc import Node, all_events

POT_CONFIG = """
pot_restart_min_ms: 200
pot_restart_max_seconds: 2
pot_stop_grace_seconds: 5
heartbeat_ms: 500
stats_interval_ms: 50
"""


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path / "core-home").start()
    yield c
    c.kill()


@pytest.fixture
def node(tmp_path, core):
    n = Node(tmp_path / "node-home", core.node_port, config=POT_CONFIG).start()
    wait_for(lambda: (core.node(n.node_id) or {}).get("connected"), 20, what="the node's registration")
    yield n
    n.stop()
    n.kill()


def command(core, node, body, timeout_ms=20000):
    body = dict(body, timeout_ms=timeout_ms)
    status, raw, _ = core.request("POST", f"/api/v1/nodes/{node.node_id}/commands", body)
    answer = json.loads(raw)
    assert status == 200, answer
    return answer


def pot_reply(answer):
    """The single PotStatusUpdate of a pot command's answer."""
    assert answer["outcome"] == "answered", answer
    [reply] = answer["replies"]
    assert "PotStatusUpdate" in reply, reply
    return reply["PotStatusUpdate"]


def pot(core, node, verb, pot_id):
    return pot_reply(command(core, node, {"command": verb, "pot_id": pot_id}))


def pot_json(core, node, verb, pot_id):
    """GetPotInfo / GetPotLogs / GetPotMetrics: the JSON in `message`."""
    return json.loads(pot(core, node, verb, pot_id)["message"])


def install(core, node, pot_id, honeypot_type, config=None, auto_start=False, **extra):
    body = {"pot_id": pot_id, "honeypot_type": honeypot_type, "auto_start": auto_start}
    if config is not None:
        body["config"] = config
    body.update(extra)
    return pot_reply(command(core, node, {"command": "InstallPot", "install": body}))


def wait_status(core, node, pot_id, status, timeout=60):
    last = {}

    def reached():
        last.update(pot(core, node, "GetPotStatus", pot_id))
        return last["status"] == status
    try:
        wait_for(reached, timeout, interval=0.1, what=f"pot {pot_id} {status}")
    except AssertionError:
        logs = pot_json(core, node, "GetPotLogs", pot_id)
        raise AssertionError(f"pot {pot_id}: last status {last}; logs {logs}")
    return last


def banner_from(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(10)
        data = b""
        while b"\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.sendall(b"root\n")
        return data.decode(errors="replace")


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_external_pot_lifecycle_through_the_core_api(core, node):
    port = free_port()
    reply = install(core, node, "demo-01", "example-python-pot", {"port": str(port), "banner": "FreeBSD 13.2"})
    assert reply["status"] == "Installing" and reply["pot_type"] == "example-python-pot"
    wait_status(core, node, "demo-01", "Stopped")  # installed, not started (auto_start false)
    assert not port_open(port)

    assert pot(core, node, "DeployPot", "demo-01")["status"] == "Running"
    wait_for(lambda: port_open(port), 20, what="the pot's port")
    # Config reached the pot: the port as an argument, the banner through
    # the environment.
    assert "FreeBSD 13.2" in banner_from(port)

    # The pot's event went pot -> event port (HONEYBEE_* variables) -> spool
    # -> core, under the pot's id.
    wait_for(lambda: all_events(core, "pot=demo-01"), 30, what="the pot's event in the core")
    [event] = all_events(core, "pot=demo-01")[:1]
    assert event["pot_type"] == "example-python-pot"

    metrics = pot_json(core, node, "GetPotMetrics", "demo-01")
    assert metrics["events"] >= 1 and metrics["restarts"] == 0
    assert metrics["resident_bytes"] > 1_000_000 and metrics["uptime_seconds"] > 0
    info = pot_json(core, node, "GetPotInfo", "demo-01")
    assert info["config"] == {"port": str(port), "banner": "FreeBSD 13.2"} and info["pid"] > 0
    assert f"--port={port}" in info["argv"]
    first_pid = info["pid"]

    assert pot(core, node, "RestartPot", "demo-01")["status"] == "Running"
    info = pot_json(core, node, "GetPotInfo", "demo-01")
    assert info["pid"] != first_pid and not process_alive(first_pid)
    assert pot_json(core, node, "GetPotMetrics", "demo-01")["restarts"] == 1

    assert pot(core, node, "StopPot", "demo-01")["status"] == "Stopped"
    assert not process_alive(info["pid"])
    wait_for(lambda: not port_open(port), 10, what="the pot's port closed")
    logs = pot_json(core, node, "GetPotLogs", "demo-01")
    assert "started, pid" in logs["stderr"] and "stopping (SIGTERM)" in logs["stderr"]

    listing = command(core, node, {"command": "GetInstalledPots"})
    assert listing["outcome"] == "answered"
    assert [(r["PotStatusUpdate"]["pot_id"], r["PotStatusUpdate"]["status"]) for r in listing["replies"]] == [
        ("demo-01", "Stopped")]


def test_empty_pot_list_and_unknown_pot(core, node):
    listing = command(core, node, {"command": "GetInstalledPots"}, timeout_ms=5000)
    assert listing["outcome"] == "answered" and listing["replies"] == []
    for verb in ("DeployPot", "StopPot", "RestartPot", "GetPotStatus", "GetPotLogs", "GetPotMetrics"):
        reply = pot(core, node, verb, "nope")
        assert reply["status"] == "Failed" and "no pot nope" in reply["message"]


def test_crashed_pot_restarts_with_backoff(core, node):
    port = free_port()
    install(core, node, "crashy", "example-python-pot", {"port": str(port)}, auto_start=True)
    wait_status(core, node, "crashy", "Running")
    wait_for(lambda: port_open(port), 20, what="the pot's port")
    first = pot_json(core, node, "GetPotInfo", "crashy")["pid"]
    os.kill(first, signal.SIGKILL)

    def restarted():
        info = pot_json(core, node, "GetPotInfo", "crashy")
        return info["pid"] > 0 and info["pid"] != first and info
    wait_for(restarted, 30, interval=0.1, what="the pot restarted")
    wait_for(lambda: port_open(port), 20, what="the restarted pot's port")
    assert pot_json(core, node, "GetPotMetrics", "crashy")["restarts"] == 1
    assert "killed by signal 9 (SIGKILL)" in pot_json(core, node, "GetPotLogs", "crashy")["stderr"]


def test_running_pots_come_back_after_a_node_restart(tmp_path, core, node):
    running_port, stopped_port = free_port(), free_port()
    install(core, node, "keeps-running", "example-python-pot", {"port": str(running_port)}, auto_start=True)
    install(core, node, "stays-stopped", "example-python-pot", {"port": str(stopped_port)})
    wait_status(core, node, "keeps-running", "Running")
    wait_status(core, node, "stays-stopped", "Stopped")
    pid = pot_json(core, node, "GetPotInfo", "keeps-running")["pid"]

    # A clean stop takes the pots down with the node...
    assert node.stop() == 0
    wait_for(lambda: not process_alive(pid), 10, what="the pot stopped with the node")
    # ...and a restart brings back the one that was running, not the other.
    node.start()
    wait_for(lambda: (core.node(node.node_id) or {}).get("connected"), 20, what="the node's registration")
    wait_status(core, node, "keeps-running", "Running")
    wait_for(lambda: port_open(running_port), 20, what="the pot's port after the restart")
    assert pot(core, node, "GetPotStatus", "stays-stopped")["status"] == "Stopped"
    assert not port_open(stopped_port)

    # A node killed outright does not leave its pots running (they get
    # SIGTERM from the kernel).
    pid = pot_json(core, node, "GetPotInfo", "keeps-running")["pid"]
    node.kill()
    wait_for(lambda: not process_alive(pid), 10, what="the pot stopped after the node was killed")


def test_install_refuses_bad_commands_and_never_runs_config_as_shell(tmp_path, core, node):
    # Short: the banner's pattern allows 200 printable characters.
    canary = Path(f"/tmp/hc-pwned-{os.getpid()}")
    canary.unlink(missing_ok=True)
    cases = [
        ({"pot_id": "../escape", "honeypot_type": "example-python-pot"}, "pot"),
        ({"pot_id": "a;rm -rf /", "honeypot_type": "example-python-pot"}, "pot"),
        ({"pot_id": "x1", "honeypot_type": "no-such-pot"}, "no-such-pot"),
        ({"pot_id": "x2", "honeypot_type": "example-python-pot", "config": {"colour": "red"}}, "colour"),
        ({"pot_id": "x3", "honeypot_type": "example-python-pot", "config": {"port": "99999"}}, "port"),
        ({"pot_id": "x4", "honeypot_type": "example-python-pot", "config": {"port": f"1; touch {canary}"}}, "port"),
        ({"pot_id": "x5", "honeypot_type": "example-python-pot", "git_url": "--upload-pack=touch /tmp/x"}, "git"),
    ]
    for body, named in cases:
        reply = install(core, node, body.pop("pot_id"), body.pop("honeypot_type"), **body)
        assert reply["status"] == "Failed", (body, reply)
        assert named in reply["message"], (body, reply)
    # A banner with shell syntax is data: the pot shows it verbatim.
    port = free_port()
    evil = f"$(touch {canary}) `touch {canary}`; touch {canary}"
    install(core, node, "x6", "example-python-pot", {"port": str(port), "banner": evil}, auto_start=True)
    wait_status(core, node, "x6", "Running")
    wait_for(lambda: port_open(port), 20, what="the pot's port")
    assert evil in banner_from(port)
    assert not canary.exists()
    listing = command(core, node, {"command": "GetInstalledPots"})
    assert [r["PotStatusUpdate"]["pot_id"] for r in listing["replies"]] == ["x6"]


def test_install_from_a_git_repository(tmp_path, core, node):
    # A real git repository (file:// URL: no network here) holding the
    # example pot, cloned by `git clone --depth 1 --branch`.
    repo = tmp_path / "repo"
    pot_src = Path(os.environ["HONEYCOMB_BUILD_DIR"]) / "share/honeycomb/potstore/pots/example-python-pot"
    assert pot_src.is_dir(), pot_src
    subprocess.run(["cp", "-rL", str(pot_src), str(repo)], check=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(repo)]
    subprocess.run(git[:5] + ["init", "-q", "-b", "trunk", str(repo)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "pot"], check=True)
    port = free_port()
    reply = install(core, node, "from-git", "example-python-pot", {"port": str(port)}, auto_start=True,
                    git_url=f"file://{repo}", git_branch="trunk")
    assert reply["status"] == "Installing"
    wait_status(core, node, "from-git", "Running")
    wait_for(lambda: port_open(port), 20, what="the cloned pot's port")
    info = pot_json(core, node, "GetPotInfo", "from-git")
    assert f"file://{repo}" in info["source"]
    assert "clone" in pot_json(core, node, "GetPotLogs", "from-git")["stderr"]

    # A branch that does not exist: the install fails, says why, and the
    # same id can be installed again.
    reply = install(core, node, "bad-branch", "example-python-pot", {"port": str(free_port())},
                    git_url=f"file://{repo}", git_branch="nope")
    status = wait_status(core, node, "bad-branch", "Failed")
    assert "clone" in status["message"]
    assert "nope" in pot_json(core, node, "GetPotLogs", "bad-branch")["stdout"] + \
        pot_json(core, node, "GetPotLogs", "bad-branch")["stderr"]


def test_service_pot_sends_alerts_through_the_event_port(core, node):
    port = free_port()
    reply = install(core, node, "web-01", "simple_http", {"port": str(port)}, auto_start=True)
    assert reply["status"] == "Installing"
    wait_status(core, node, "web-01", "Running", timeout=90)
    wait_for(lambda: port_open(port), 30, what="simple_http's port")
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login.php?user=root", timeout=10).read()
    except Exception:
        pass  # a honeypot may answer 401/404: the request is what counts
    wait_for(lambda: all_events(core, "pot=web-01"), 30, what="simple_http's alert in the core")
    event = all_events(core, "pot=web-01")[0]
    assert event["pot_type"] == "simple_http"
    assert "/admin/login.php" in json.dumps(event)
    assert pot_json(core, node, "GetPotMetrics", "web-01")["events"] >= 1


def _telnet_login(port, user):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(10)
        seen = b""
        while b"login: " not in seen:
            chunk = s.recv(4096)
            assert chunk, seen
            seen += chunk
        s.sendall(user.encode() + b"\r\nsecret\r\n")
        while b"Login incorrect" not in seen and b"$ " not in seen and b"# " not in seen:
            chunk = s.recv(4096)
            if not chunk:
                break
            seen += chunk


def _ftp_login(port, user):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(10)
        seen = b""
        while b"220" not in seen:
            seen += s.recv(4096)
        s.sendall(b"USER " + user.encode() + b"\r\nPASS secret\r\n")
        while b"230" not in seen and b"530" not in seen:
            chunk = s.recv(4096)
            if not chunk:
                break
            seen += chunk


def _ssh_login(port, user):
    subprocess.run(["sshpass", "-p", "secret", "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no",
                    "-o", "PreferredAuthentications=password", "-p", str(port), f"{user}@127.0.0.1", "id"],
                   capture_output=True, timeout=60)


def _http_login(port, user):
    data = f"log={user}&pwd=secret&wp-submit=Log+In".encode()
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/wp-login.php", data=data),
                           timeout=10).read()


@pytest.mark.parametrize("pot_type,login", [("telnet", _telnet_login), ("ftp", _ftp_login), ("ssh", _ssh_login),
                                            ("http", _http_login)])
def test_login_honeypot_pots_report_logins_to_the_core(core, node, pot_type, login):
    port = free_port()
    pot_id = f"{pot_type}-pot"
    install(core, node, pot_id, pot_type, {"port": str(port)}, auto_start=True)
    wait_status(core, node, pot_id, "Running", timeout=90)
    wait_for(lambda: port_open(port), 60, what=f"{pot_type}'s port")
    login(port, "pot-user")
    [event] = wait_for(lambda: [e for e in all_events(core, f"pot={pot_id}") if e.get("username") == "pot-user"],
                       30, what=f"{pot_type}'s login in the core")
    assert event["pot_type"] == pot_type and f"{pot_type}.login" in json.dumps(event)


def test_banner_pot_reports_connections_to_the_core(core, node):
    port = free_port()
    install(core, node, "scan-01", "banner", {"ports": str(port), "banner": "220 ready\\r\\n"}, auto_start=True)
    wait_status(core, node, "scan-01", "Running", timeout=90)
    wait_for(lambda: port_open(port), 30, what="banner's port")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(10)
        assert s.recv(64) == b"220 ready\r\n"
        s.sendall(b"EHLO scanner.example\r\n")
        s.shutdown(socket.SHUT_WR)
        assert s.recv(64) == b""
        src_port = s.getsockname()[1]

    def mine():
        return [e for e in all_events(core, "pot=scan-01") if e["src_port"] == src_port]
    wait_for(lambda: len(mine()) == 3, 30, what="the connection's three events in the core")
    by_type = {e["event_type"]: e for e in mine()}
    assert set(by_type) == {"banner.connect", "banner.data", "banner.disconnect"}
    for e in by_type.values():
        assert (e["pot_type"], e["src_ip"], e["dst_port"]) == ("banner", "127.0.0.1", port)
        assert e["session"] == by_type["banner.connect"]["session"] != ""
    assert "EHLO scanner.example" in json.dumps(by_type["banner.data"])


def test_pots_declared_in_the_node_config(tmp_path, core):
    port = free_port()
    config = POT_CONFIG + f"""
pots:
  - id: declared-01
    type: example-python-pot
    config: {{port: "{port}", banner: "first"}}
  - id: broken-01
    type: no-such-pot
"""
    n = Node(tmp_path / "node-home", core.node_port, config=config).start()
    try:
        wait_for(lambda: (core.node(n.node_id) or {}).get("connected"), 20, what="the node's registration")
        # Installed and started with no command from the core.
        wait_status(core, n, "declared-01", "Running")
        wait_for(lambda: port_open(port), 20, what="the declared pot's port")
        assert "first" in banner_from(port)
        # A pot the catalog does not know is reported in the log; the node runs on.
        assert "no-such-pot" in n.output() and n.proc.poll() is None
        n.stop()
        # `node pots` lists what is installed and what should become of it.
        listing = subprocess.run(n.argv("node", "--config", n.config_file, "pots"), capture_output=True, text=True,
                                 timeout=30)
        assert listing.returncode == 0, listing.stderr
        [row] = [line.split() for line in listing.stdout.splitlines() if line.startswith("declared-01")]
        assert row[:3] == ["declared-01", "example-python-pot", "running"], listing.stdout
        catalog = subprocess.run(n.argv("node", "--config", n.config_file, "pots", "--catalog"), capture_output=True,
                                 text=True, timeout=30)
        assert catalog.returncode == 0 and "simple_http (honeycomb service" in catalog.stdout, catalog

        # Changing its config in the node config reinstalls it at the next start.
        new_port = free_port()
        n.config_file.write_text(config.replace(str(port), str(new_port)).replace("first", "second"))
        n.start()
        wait_for(lambda: (core.node(n.node_id) or {}).get("connected"), 20, what="the node's registration")
        wait_status(core, n, "declared-01", "Running")
        wait_for(lambda: port_open(new_port), 20, what="the reinstalled pot's port")
        assert "second" in banner_from(new_port)
        assert not port_open(port)
    finally:
        n.stop()
        n.kill()


ANONYMOUS_POT = r'''
import json, os, socket, sys, time
# Like Cowrie's stock socketlog output: one long-lived connection, records
# that name no pot (only `sensor`), so the node must know the pot from the
# connection.
s = socket.create_connection(("127.0.0.1", int(os.environ["HONEYBEE_EVENT_PORT"])))
for i in range(3):
    record = {"eventid": "cowrie.login.failed", "sensor": "web-host", "username": "root", "password": f"pw{i}",
              "src_ip": "203.0.113.9", "timestamp": "2026-12-01T10:00:00.000000Z"}
    s.sendall((json.dumps(record) + "\n").encode())
print("sent", flush=True)
while True:
    time.sleep(3600)
'''


def test_events_that_name_no_pot_get_the_pot_of_their_connection(tmp_path, core):
    catalog = tmp_path / "catalog"
    (catalog / "anon").mkdir(parents=True)
    (catalog / "anon" / "anon.py").write_text(ANONYMOUS_POT)
    (catalog / "potstore.json").write_text(json.dumps({"version": 1, "pots": [{
        "id": "anonymous", "name": "Anonymous", "version": "1", "type": "external",
        "description": "sends records without a pot id", "protocols": [], "default_ports": [],
        "requirements": ["python3"], "honeybee": {"event_port": True, "client": "cowrie-output"},
        "setup": {"source": {"folder": "anon"}, "run": ["python3", "anon.py"]}, "config": []}]}))
    config = POT_CONFIG + f"potstore: {catalog / 'potstore.json'}\npots:\n  - {{id: anon-01, type: anonymous}}\n"
    n = Node(tmp_path / "node-home", core.node_port, config=config).start()
    try:
        wait_for(lambda: len(all_events(core, "pot=anon-01")) == 3, 30, what="the pot's three events in the core")
        # The same records from a client the node did not start keep no pot.
        n.send_each([json.dumps({"eventid": "cowrie.login.failed", "sensor": "other", "username": "x"})])
        wait_for(lambda: len(all_events(core)) == 4, 30, what="the outside event")
        outside = [e for e in all_events(core) if e["pot_id"] != "anon-01"]
        assert len(outside) == 1 and outside[0]["pot_id"] == "other"  # Cowrie's sensor, as before
        assert pot_json(core, n, "GetPotMetrics", "anon-01")["events"] == 3
    finally:
        n.stop()
        n.kill()


def test_python_plugin_runs_as_a_pot(tmp_path, core):
    """A Python Honeycomb plugin, written for the original framework, run by
    the node as a `honeycomb-service` pot: installed from the plugin library
    into the pot's honeycomb home, run with the honeybee integration, its
    alerts through the event port to the core under the pot's id."""
    library = tmp_path / "library"
    shutil.copytree(Path(os.environ["HONEYCOMB_BUILD_DIR"]) / "share/honeycomb/library", library)
    shutil.copytree(Path(__file__).parent / "python_plugins/py_http", library / "services/py_http")
    catalog = tmp_path / "potstore.json"
    catalog.write_text(json.dumps({"version": 1, "pots": [{
        "id": "py_http", "name": "Python HTTP", "version": "1", "type": "honeycomb-service",
        "description": "a Python plugin", "protocols": ["http"], "default_ports": [8888], "requirements": [],
        "honeybee": {"event_port": True, "client": "honeycomb"}, "setup": {"service": "py_http"},
        "config": [{"key": "port", "type": "integer", "required": True, "min": 1, "max": 65535,
                    "description": "Listening port"}]}]}))
    n = Node(tmp_path / "node-home", core.node_port, config=POT_CONFIG + f"potstore: {catalog}\n",
             env=dict(os.environ, HONEYCOMB_LIBRARY=str(library))).start()
    try:
        wait_for(lambda: (core.node(n.node_id) or {}).get("connected"), 20, what="the node's registration")
        port = free_port()
        assert install(core, n, "pyweb-01", "py_http", {"port": str(port)}, auto_start=True)["status"] == "Installing"
        wait_status(core, n, "pyweb-01", "Running", timeout=90)
        wait_for(lambda: port_open(port), 30, what="py_http's port")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/wp-login.php", timeout=10) as r:
            assert b"Welcome to nginx!" in r.read()
        wait_for(lambda: all_events(core, "pot=pyweb-01"), 30, what="py_http's alert in the core")
        event = all_events(core, "pot=pyweb-01")[0]
        assert event["pot_type"] == "py_http" and event["event_type"] == "py_http"
        assert "/wp-login.php" in json.dumps(event)
        # The pot is the service and its Python child, in one process group.
        metrics = pot_json(core, n, "GetPotMetrics", "pyweb-01")
        assert metrics["status"] == "Running" and metrics["events"] >= 1
        assert pot(core, n, "StopPot", "pyweb-01")["status"] == "Stopped"
        wait_for(lambda: not port_open(port), 20, what="py_http's port to close")
    finally:
        n.stop()
        n.kill()
