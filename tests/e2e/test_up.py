"""`honeycomb up`: one command starts a core, a node and the node's default
honeypots, says where the API and the token are, and Ctrl-C stops all of it."""
import json
import os
import signal
import socket
import subprocess
import urllib.request

from conftest import BIN, child_pids, free_port, port_closed, port_open, wait_for


def test_up_runs_core_and_honeypots_and_stops_them_all(tmp_path):
    home = tmp_path / "home"
    http, node, api, ws, event_port, telnet, ssh = (free_port() for _ in range(7))
    argv = [BIN, "--home", str(home)] + (["--iamroot"] if os.geteuid() == 0 else []) + [
        "up", "--http-port", str(http), "--telnet-port", str(telnet), "--ssh-port", str(ssh),
        "--node-listen", f"127.0.0.1:{node}", "--api-listen", f"127.0.0.1:{api}",
        "--ws-listen", f"127.0.0.1:{ws}", "--event-listen", f"127.0.0.1:{event_port}"]
    out_path = tmp_path / "up.out"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: "honeycomb is up" in out_path.read_text() or proc.poll() is not None, 30,
                 what="`up` to report")
        text = out_path.read_text()
        assert proc.poll() is None, text
        assert f"http://127.0.0.1:{api}/" in text and str(home / "core" / "api-token") in text
        assert "first start: API token created" in text
        # The node installs and starts the default honeypot as its pot.
        wait_for(lambda: port_open(http), 60, what="the honeypot's port")
        children = child_pids(proc.pid)
        assert len(children) >= 2, children  # the core and the node (the pot is the node's child)
        token = (home / "core" / "api-token").read_text().strip()

        def api_get(path):
            req = urllib.request.Request(f"http://127.0.0.1:{api}{path}", headers={"Authorization": f"Bearer {token}"})
            return json.loads(urllib.request.urlopen(req, timeout=10).read())

        def nodes():
            return api_get("/api/v1/nodes")["nodes"]
        # The honeypot's alert goes pot -> node -> core, stored under the pot's id.
        urllib.request.urlopen(f"http://127.0.0.1:{http}/up-test", timeout=10).read()
        events = wait_for(lambda: [e for e in api_get("/api/v1/events?pot=web-01")["events"]
                                   if "up-test" in json.dumps(e)], 30, what="the honeypot's event in the core")
        assert events[0]["pot_type"] == "simple_http"
        # The telnet honeypot too: a login attempt reaches the core.
        wait_for(lambda: port_open(telnet), 60, what="the telnet honeypot's port")
        with socket.create_connection(("127.0.0.1", telnet), timeout=10) as s:
            s.settimeout(10)
            seen = b""
            while b"login: " not in seen:
                chunk = s.recv(4096)
                assert chunk, seen
                seen += chunk
            s.sendall(b"up-test-user\r\nup-test-password\r\n")
            wait_for(lambda: [e for e in api_get("/api/v1/events?pot=telnet-01")["events"]
                              if e.get("username") == "up-test-user"], 30, what="the telnet login in the core")
        # ...and the ssh honeypot's, with the client's fingerprint.
        wait_for(lambda: port_open(ssh), 60, what="the ssh honeypot's port")
        r = subprocess.run(["sshpass", "-p", "up-test-password", "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
                            "-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no",
                            "-o", "PreferredAuthentications=password", "-p", str(ssh), "up-ssh-user@127.0.0.1", "id"],
                           capture_output=True, timeout=60)
        assert r.returncode == 5, r.stderr  # sshpass: the password was refused
        [login] = wait_for(lambda: [e for e in api_get("/api/v1/events?pot=ssh-01")["events"]
                                    if e.get("username") == "up-ssh-user"], 30, what="the ssh login in the core")
        assert len(json.dumps(login).split('"hassh": "')[1].split('"')[0]) == 32, login
        # ...and the node registered with it, enrolled: mutual TLS with a
        # certificate from the core's CA, the join token spent.
        wait_for(lambda: [n for n in nodes() if n["status"] == "Running"], 20, what="the node Running")
        assert len(nodes()) == 1
        # Its pots started before it registered: it reports them when it does,
        # so the core (and the dashboard) lists them without being asked.
        wait_for(lambda: {p["pot_id"] for p in api_get("/api/v1/honeypots")["honeypots"] if p["status"] == "Running"}
                 >= {"web-01", "telnet-01", "ssh-01"}, 20, what="the pots listed by the core")
        assert (home / "node" / "tls" / "node.crt").exists()
        assert oct(os.stat(home / "up-node.yml").st_mode & 0o777) == "0o600"
        certs = subprocess.run([BIN, "--home", str(home)] + (["--iamroot"] if os.geteuid() == 0 else []) +
                               ["core", "node", "certs"], capture_output=True, text=True, timeout=30).stdout
        assert "valid" in certs and "used by node" in certs, certs
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=40)
    assert rc == 0, out_path.read_text()
    for port in (http, node, api, ws, event_port, telnet, ssh):
        assert port_closed(port), port
    for pid in children:
        wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                 open(f"/proc/{pid}/stat").read().split()[2] == "Z", 10, what=f"child {pid} gone")
