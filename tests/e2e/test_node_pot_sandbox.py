"""Pot sandboxing end to end (docs/POTS.md § Sandbox): a real node, pots
installed through the core's API, and what the kernel says about the pots'
processes (/proc/<pid>/status and /proc/<pid>/limits), plus a pot that tries
to read the node's files and reports what it could.

- As root, each pot runs as its own uid (not 0, different per pot), with the
  configured limits and niceness, no_new_privs, no capability at all on a high port and
  only CAP_NET_BIND_SERVICE (bit 10) on port 81, which it then serves.
- It cannot read the node's id, spool, statistics or config, nor another
  pot's folder, in its private mount view and, with pot_private_mounts off,
  through file modes alone; it can write its own home.
- A node that is not root runs its pots as its own user, with the limits,
  and says so once.
"""
import json
import os
import shutil
import socket
import tempfile
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, port_open, wait_for
from core_peer import Core
from node_proc import Node
from test_node_pots import POT_CONFIG, install, pot_json, wait_status

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="pots get their own users only from a root node")

BUILD_DIR = Path(os.environ.get("HONEYCOMB_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))
SANITIZED = "HONEYCOMB_SANITIZE:BOOL=ON" in (BUILD_DIR / "CMakeCache.txt").read_text(errors="replace")

UID_BASE = 64000  # not the default: other suites' nodes run pots beside these
LIMITS = f"""
pot_uid_base: {UID_BASE}
pot_memory_mb: 768
pot_cpu_seconds: 3600
pot_open_files: 3000
pot_processes: 100
pot_nice: 7
"""
CAP_NET_BIND_SERVICE = 1 << 10
# Ports below this need CAP_NET_BIND_SERVICE (1024 unless the machine says otherwise).
UNPRIVILEGED_START = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path / "core-home").start()
    yield c
    c.kill()


def start_node(tmp_path, core, config="", cls=Node, **kw):
    n = cls(tmp_path / "node-home", core.node_port, config=POT_CONFIG + LIMITS + config, **kw).start()
    wait_for(lambda: (core.node(n.node_id) or {}).get("connected"), 20, what="the node's registration")
    return n


@pytest.fixture
def node(tmp_path, core):
    n = start_node(tmp_path, core)
    yield n
    n.stop()
    n.kill()


def proc_status(pid):
    """/proc/<pid>/status as {field: value}."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def proc_limits(pid):
    """/proc/<pid>/limits as {"Max open files": (soft, hard)}."""
    out = {}
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]:
        name, soft, hard = line[:26].strip(), line[26:47].strip(), line[47:68].strip()
        out[name] = (soft, hard)
    return out


def ids(status, field):
    """"Uid: 61000 61000 61000 61000" -> {61000}."""
    return {int(v) for v in status[field].split()}


def free_low_port():
    if UNPRIVILEGED_START <= 81:
        pytest.skip(f"every port from {UNPRIVILEGED_START} up is unprivileged here")
    for port in range(81, UNPRIVILEGED_START):
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port below 1024")


def running_pid(core, node, pot_id):
    wait_status(core, node, pot_id, "Running", timeout=90)
    return pot_json(core, node, "GetPotInfo", pot_id)["pid"]


def test_each_pot_runs_as_its_own_user_with_its_limits_and_one_capability_at_most(core, node):
    high, low = free_port(), free_low_port()
    install(core, node, "web-high", "simple_http", {"port": str(high)}, auto_start=True)
    install(core, node, "web-low", "simple_http", {"port": str(low)}, auto_start=True)
    pids = {pot_id: running_pid(core, node, pot_id) for pot_id in ("web-high", "web-low")}
    wait_for(lambda: port_open(high) and port_open(low), 30, what="both pots' ports")

    uids = {}
    for pot_id, pid in pids.items():
        status, limits = proc_status(pid), proc_limits(pid)
        info = pot_json(core, node, "GetPotInfo", pot_id)
        sandbox = info["sandbox"]
        # Its own uid and gid: real, effective, saved and filesystem ids alike,
        # not root, no supplementary group, the one GetPotInfo reports, kept
        # in its pot.json as base + slot.
        [uid], [gid] = ids(status, "Uid"), ids(status, "Gid")
        assert uid != 0 and gid != 0 and status["Groups"] == ""
        assert (uid, gid) == (sandbox["uid"], sandbox["gid"])
        slot = json.loads((node.data_dir / "pots" / pot_id / "pot.json").read_text())["uid_slot"]
        assert uid == UID_BASE + slot
        uids[pot_id] = uid
        assert status["NoNewPrivs"] == "1"
        # The configured limits.
        assert limits["Max open files"][1] == "3000"
        assert limits["Max processes"] == ("100", "100")
        assert limits["Max cpu time"] == ("3600", "3601")
        if SANITIZED:
            assert limits["Max address space"] == ("unlimited", "unlimited")
            assert sandbox["memory_mb"] is None and "sanitizer" in sandbox["memory_note"]
        else:
            assert limits["Max address space"] == (str(768 << 20), str(768 << 20))
            assert sandbox["memory_mb"] == 768
        assert (sandbox["open_files"], sandbox["processes"], sandbox["cpu_seconds"]) == (3000, 100, 3600)
        # Below the node's priority by pot_nice.
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(os.getpriority(os.PRIO_PROCESS, node.proc.pid) + 7, 19)
        assert sandbox["nice"] == 7
        # Started with it, and said so.
        assert f"uid {uid} gid {gid}" in pot_json(core, node, "GetPotLogs", pot_id)["stderr"]
        # Its folder: the node's, closed to all but its group; home its own.
        folder = (node.data_dir / "pots" / pot_id).stat()
        assert (folder.st_uid, folder.st_gid, folder.st_mode & 0o7777) == (0, gid, 0o710)
        home = (node.data_dir / "pots" / pot_id / "home").stat()
        assert (home.st_uid, home.st_gid) == (uid, gid)
        assert info["workdir"] == str(node.data_dir / "pots" / pot_id / "home")

    assert uids["web-high"] != uids["web-low"]

    # A high port: no capability at all, permitted, effective, ambient or bounding.
    high_status = proc_status(pids["web-high"])
    for field in ("CapEff", "CapPrm", "CapAmb", "CapBnd"):
        assert int(high_status[field], 16) == 0, (field, high_status[field])
    assert pot_json(core, node, "GetPotInfo", "web-high")["sandbox"]["capabilities"] == []
    # Port 81 (or the first free one below 1024): CAP_NET_BIND_SERVICE and nothing else...
    low_status = proc_status(pids["web-low"])
    for field in ("CapEff", "CapPrm", "CapAmb", "CapBnd"):
        assert int(low_status[field], 16) == CAP_NET_BIND_SERVICE, (field, low_status[field])
    info = pot_json(core, node, "GetPotInfo", "web-low")["sandbox"]
    assert info["capabilities"] == ["CAP_NET_BIND_SERVICE"] and info["privileged_ports"] == [low]
    # ...with which it really bound the port and serves it.
    with urllib.request.urlopen(f"http://127.0.0.1:{low}/", timeout=10) as r:
        assert b"Welcome to nginx!" in r.read()

    # After a restart of the node, the same uids (the slot is in pot.json).
    node.stop()
    node.start()
    wait_for(lambda: (core.node(node.node_id) or {}).get("connected"), 20, what="the node's registration")
    for pot_id in pids:
        assert ids(proc_status(running_pid(core, node, pot_id)), "Uid") == {uids[pot_id]}


SNOOP = r'''
import json, os, socket, sys, time
targets = json.loads(sys.argv[1])
seen = {}
for name, path in targets["read"].items():
    try:
        if os.path.isdir(path):
            seen[name] = "listed: " + ",".join(os.listdir(path))
        else:
            with open(path, "rb") as f:
                seen[name] = "read %d bytes" % len(f.read())
    except OSError as e:
        seen[name] = "denied: " + e.__class__.__name__
try:
    with open(os.path.join(os.environ["HOME"], "mine.txt"), "w") as f:
        f.write("ok")
    seen["own home"] = "written"
except OSError as e:
    seen["own home"] = "denied: " + e.__class__.__name__
try:
    with socket.socket() as s:
        s.bind(("127.0.0.1", targets["low_port"]))
    seen["low port"] = "bound"
except OSError as e:
    seen["low port"] = "denied: " + e.__class__.__name__
try:
    os.setuid(0)
    seen["setuid 0"] = "became root"
except OSError as e:
    seen["setuid 0"] = "denied: " + e.__class__.__name__
print("SNOOP " + json.dumps(seen), flush=True)
while True:
    time.sleep(3600)
'''


def snoop_catalog(tmp_path, targets):
    """A catalog with one external pot that tries to read `targets` and
    prints what it could, as one JSON line in its stdout."""
    catalog = tmp_path / "catalog"
    (catalog / "snoop").mkdir(parents=True)
    (catalog / "snoop" / "snoop.py").write_text(SNOOP)
    (catalog / "potstore.json").write_text(json.dumps({"version": 1, "pots": [{
        "id": "snoop", "name": "Snoop", "version": "1", "type": "external",
        "description": "tries to read the node's files", "protocols": [], "default_ports": [],
        "requirements": ["python3"], "honeybee": {"event_port": True, "client": "none"},
        "setup": {"source": {"folder": "snoop"}, "run": ["python3", "snoop.py", json.dumps(targets)]},
        "config": []}]}))
    return catalog / "potstore.json"


def snoop_report(core, node, pot_id):
    def line():
        out = pot_json(core, node, "GetPotLogs", pot_id)["stdout"]
        return next((json.loads(l[6:]) for l in out.splitlines() if l.startswith("SNOOP ")), None)
    wait_status(core, node, pot_id, "Running")
    return wait_for(line, 30, what="the snoop pot's report")


def node_files(config_file, data_dir):
    return {
        "node id": str(data_dir / "node_id"),
        "spool": str(data_dir / "spool"),
        "data dir": str(data_dir),
        "pots folder": str(data_dir / "pots"),
        "node config": str(config_file),
        "other pot's pot.json": str(data_dir / "pots" / "other" / "pot.json"),
        "other pot's home": str(data_dir / "pots" / "other" / "home"),
    }


def assert_kept_out(seen, names):
    for name in names:
        assert seen[name].startswith("denied"), (name, seen[name])
    assert seen["own home"] == "written"
    assert seen["low port"].startswith("denied")  # no capability on a pot that asked for no low port
    assert seen["setuid 0"].startswith("denied")


def test_a_pot_sees_none_of_the_node_files(tmp_path, core):
    data_dir = tmp_path / "node-home" / "node"
    targets = {"read": node_files(tmp_path / "node-home" / "node.yml", data_dir) | {
        "statistics": str(data_dir / "stats.json")}, "low_port": free_low_port()}
    n = start_node(tmp_path, core, f"potstore: {snoop_catalog(tmp_path, targets)}\n")
    try:
        # Another pot, so that there is a neighbour to look at.
        install(core, n, "other", "snoop", auto_start=False)
        wait_status(core, n, "other", "Stopped")
        install(core, n, "snoop-01", "snoop", auto_start=True)
        seen = snoop_report(core, n, "snoop-01")
        assert (data_dir / "node_id").exists() and (data_dir / "pots" / "other" / "pot.json").exists()
        assert_kept_out(seen, list(targets["read"]))
        isolation = pot_json(core, n, "GetPotInfo", "snoop-01")["sandbox"]["isolation"]
        if isolation == "mount namespace":
            # Not closed: not there. Its view of data_dir holds its own folder only.
            assert seen["node id"] == "denied: FileNotFoundError"
            assert seen["other pot's pot.json"] == "denied: FileNotFoundError"
        assert (data_dir / "pots" / "snoop-01" / "home" / "mine.txt").read_text() == "ok"
    finally:
        n.stop()
        n.kill()


def test_a_pot_sees_the_node_config_file_empty_wherever_it_is(tmp_path, core):
    """A node.yml outside data_dir, in a folder anyone may enter and readable
    by all (/etc/honeycomb/node.yml 0644, say): file modes do not protect it,
    so the pot's private view covers it with an empty file."""
    open_dir = Path(tempfile.mkdtemp(prefix="hc-node-conf-", dir="/tmp"))
    os.chmod(open_dir, 0o755)
    config_file = open_dir / "node.yml"
    targets = {"read": {"node config": str(config_file)}, "low_port": free_low_port()}

    class ConfigElsewhere(Node):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            config_file.write_text(self.config_file.read_text())
            os.chmod(config_file, 0o644)
            self.config_file = config_file

    n = start_node(tmp_path, core, f"potstore: {snoop_catalog(tmp_path, targets)}\n", cls=ConfigElsewhere)
    try:
        install(core, n, "snoop-01", "snoop", auto_start=True)
        seen = snoop_report(core, n, "snoop-01")
        assert pot_json(core, n, "GetPotInfo", "snoop-01")["sandbox"]["isolation"] == "mount namespace"
        assert config_file.stat().st_size > 0
        assert seen["node config"] == "read 0 bytes", seen
    finally:
        n.stop()
        n.kill()
        shutil.rmtree(open_dir, ignore_errors=True)


def test_file_modes_keep_pots_out_without_a_mount_namespace(tmp_path, core):
    # Without a private view, the pots must pass through data_dir: it lives
    # where other users may pass, as /var/lib/honeycomb would.
    outer = Path(tempfile.mkdtemp(prefix="hc-sandbox-"))
    try:
        os.chmod(outer, 0o755)
        data_dir = outer / "node"
        targets = {"read": node_files(tmp_path / "node-home" / "node.yml", data_dir) | {
            "statistics": str(data_dir / "stats.json")}, "low_port": free_low_port()}
        class OwnDataDir(Node):
            @property
            def data_dir(self):
                return data_dir
        n = start_node(tmp_path, core, f"potstore: {snoop_catalog(tmp_path, targets)}\n"
                                       f"data_dir: {data_dir}\npot_private_mounts: false\n", cls=OwnDataDir)
        try:
            install(core, n, "other", "snoop", auto_start=False)
            wait_status(core, n, "other", "Stopped")
            # The statistics exist (rewritten every second) before the pot looks.
            wait_for(lambda: (data_dir / "stats.json").exists(), 20, what="stats.json")
            install(core, n, "snoop-01", "snoop", auto_start=True)
            seen = snoop_report(core, n, "snoop-01")
            assert pot_json(core, n, "GetPotInfo", "snoop-01")["sandbox"]["isolation"] == "file modes"
            assert_kept_out(seen, list(targets["read"]))
            assert oct(data_dir.stat().st_mode & 0o777) == oct(0o711)
            assert (data_dir / "pots" / "snoop-01" / "home" / "mine.txt").read_text() == "ok"
        finally:
            n.stop()
            n.kill()
    finally:
        shutil.rmtree(outer, ignore_errors=True)


class NobodyNode(Node):
    """The node as `nobody`: not root, so its pots run as nobody too."""

    def argv(self, *args):
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + super().argv(*args)


def test_a_node_that_is_not_root_runs_pots_as_itself_with_the_limits(tmp_path, core):
    home = Path(tempfile.mkdtemp(prefix="hc-nobody-"))
    try:
        os.chmod(home, 0o755)
        os.chown(home, 65534, 65534)
        n = NobodyNode(home, core.node_port, config=POT_CONFIG + LIMITS).start()
        try:
            wait_for(lambda: (core.node(n.node_id) or {}).get("connected"), 20, what="the node's registration")
            port = free_port()
            install(core, n, "as-node", "example-python-pot", {"port": str(port)}, auto_start=True)
            pid = running_pid(core, n, "as-node")
            wait_for(lambda: port_open(port), 20, what="the pot's port")
            status, limits = proc_status(pid), proc_limits(pid)
            assert ids(status, "Uid") == {65534} and status["NoNewPrivs"] == "1"
            assert limits["Max open files"][1] == "3000"
            assert limits["Max cpu time"] == ("3600", "3601")
            if not SANITIZED:
                assert limits["Max address space"][1] == str(768 << 20)
            sandbox = pot_json(core, n, "GetPotInfo", "as-node")["sandbox"]
            assert sandbox["uid"] == 65534 and sandbox["isolation"].startswith("none")
            assert sandbox["processes"] is None  # per uid: it would count the node's own
            assert n.output().count("does not run as root") == 1
        finally:
            n.stop()
            n.kill()
    finally:
        shutil.rmtree(home, ignore_errors=True)
