"""A foreground `service run simple_http` sending alerts to json_file: the
start-up records of the debug log, what an HTTP client sees, the alerts in
the output file, and a clean stop on SIGINT and SIGTERM."""
import http.client
import json
import os
import signal
import socket
import subprocess
import uuid
from datetime import datetime

import pytest

from conftest import (child_pids, free_port, pid_alive, port_closed, read_json_lines, stop_process, wait_for,
                      wait_log_while_running, wait_port_closed)

CONFIGURED = ("[*] json_file has been configured, make sure to test it with "
              "`honeycomb integration test json_file`")


@pytest.fixture
def alerts_file(hc, tmp_path):
    """simple_http and json_file installed, json_file configured; returns the alerts file."""
    hc.run("service", "install", "simple_http", check=True)
    hc.run("integration", "install", "json_file", check=True)
    path = tmp_path / "alerts.json"
    r = hc.run("integration", "configure", "json_file", f"filepath={path}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == CONFIGURED
    return path


def start(hc, port, *extra, **spawn_options):
    """Runs simple_http in the foreground and waits until it serves."""
    proc = hc.spawn("service", "run", "simple_http", f"port={port}", "-i", "json_file", *extra, **spawn_options)
    wait_log_while_running(hc, proc, lambda r: r.get("message") == f"Starting Simple HTTP service on port: {port}",
                           what="the Starting Simple HTTP record")
    wait_log_while_running(hc, proc, lambda r: r.get("message") == "service is ready", what="service is ready")
    return proc


def curl(port, path="/", *extra):
    r = subprocess.run(["curl", "-s", "-D", "-", "--max-time", "10", *extra, f"http://127.0.0.1:{port}{path}"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.replace("\r\n", "\n").partition("\n\n")
    headers = {}
    for line in head.splitlines()[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return head.splitlines()[0], headers, body


def test_alerts_to_json_file_and_sigint(hc, alerts_file):
    port = free_port()
    proc = start(hc, port)
    n = 5
    for i in range(n):
        status, headers, body = curl(port, f"/path{i}")
        assert status.startswith("HTTP/1.1 200")
        assert "Welcome to nginx!" in body
        assert headers["server"] == "nginx"

    wait_for(lambda: len(read_json_lines(alerts_file)) >= n, what=f"{n} alerts in {alerts_file}")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    assert port_closed(port)

    alerts = read_json_lines(alerts_file)
    assert len(alerts) == n, alerts
    assert sorted(a["request"] for a in alerts) == [f"GET /path{i} HTTP/1.1" for i in range(n)]
    for a in alerts:
        assert a["event_type"] == "simple_http"
        assert a["originating_ip"] == "127.0.0.1"
        assert isinstance(a["originating_port"], int) and 0 < a["originating_port"] < 65536
        uuid.UUID(a["id"])
        datetime.fromisoformat(a["timestamp"].replace("Z", "+00:00"))
    assert len({a["id"] for a in alerts}) == n

    records = hc.log_records()
    alert_records = [r for r in records if r.get("event_type") == "simple_http"]
    assert len(alert_records) == n
    for r in alert_records:
        assert {"levelname", "asctime", "name", "message", "request", "originating_ip"} <= r.keys()
    messages = [r.get("message") for r in records]
    assert "Caught KeyboardInterrupt, shutting service down gracefully" in messages
    assert "Simple HTTP service stopped" in messages
    # The stop is logged after the interrupt.
    assert messages.index("Simple HTTP service stopped") > \
        messages.index("Caught KeyboardInterrupt, shutting service down gracefully")


def test_custom_server_version(hc, alerts_file):
    port = free_port()
    proc = start(hc, port, "version=Foo")
    status, headers, body = curl(port, "/")
    assert status.startswith("HTTP/1.1 200")
    assert headers["server"] == "Foo"
    assert "Welcome to nginx!" in body
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err


def test_sigterm_stops_cleanly(hc, alerts_file):
    port = free_port()
    proc = start(hc, port)
    children = child_pids(proc.pid)
    curl(port, "/")
    wait_for(lambda: len(read_json_lines(alerts_file)) >= 1, what="an alert")
    code, _, err = stop_process(proc, signal.SIGTERM)
    assert code == 0, err
    wait_port_closed(port, timeout=5)
    assert [c for c in children if pid_alive(c)] == []
    assert child_pids(proc.pid) == []
    messages = [r.get("message") for r in hc.log_records()]
    assert "Simple HTTP service stopped" in messages
    assert len(read_json_lines(alerts_file)) == 1


def test_keep_alive_requests_each_alerted(hc, alerts_file):
    port = free_port()
    proc = start(hc, port)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    n = 4
    for i in range(n):
        conn.request("GET", f"/ka{i}")
        res = conn.getresponse()
        body = res.read().decode()
        assert res.status == 200
        assert "Welcome to nginx!" in body
        assert res.getheader("Server") == "nginx"
    local_port = conn.sock.getsockname()[1]
    conn.close()

    wait_for(lambda: len(read_json_lines(alerts_file)) >= n, what=f"{n} alerts")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    alerts = read_json_lines(alerts_file)
    assert sorted(a["request"] for a in alerts) == [f"GET /ka{i} HTTP/1.1" for i in range(n)]
    # One connection: one client port for every alert.
    assert {a["originating_port"] for a in alerts} == {local_port}


def test_oversized_header_gets_400_and_service_keeps_serving(hc, alerts_file):
    port = free_port()
    proc = start(hc, port)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nX-Big: " + b"A" * 9000 + b"\r\n\r\n")
        response = b""
        while b"\r\n" not in response:
            chunk = s.recv(4096)
            if not chunk:
                break
            response += chunk
    assert response.startswith(b"HTTP/1.1 400"), response[:200]

    status, headers, body = curl(port, "/after")
    assert status.startswith("HTTP/1.1 200")
    assert "Welcome to nginx!" in body
    wait_for(lambda: any(a["request"] == "GET /after HTTP/1.1" for a in read_json_lines(alerts_file)),
             what="the alert of the request after the oversized one")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    assert [a["request"] for a in read_json_lines(alerts_file)] == ["GET /after HTTP/1.1"]


def test_args_of_the_run_are_saved(hc, alerts_file):
    port = free_port()
    proc = start(hc, port, "version=Bar")
    saved = json.loads((hc.home / "services" / "simple_http" / ".args.json").read_text())
    assert saved["port"] == port
    assert saved["version"] == "Bar"
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err


def test_integration_option_takes_one_name(hc, alerts_file):
    """`-i NAME` takes one name; arguments after it are the service's, and
    naming the same integration twice sends each alert once."""
    port = free_port()
    proc = hc.spawn("service", "run", "simple_http", "-i", "json_file", f"port={port}", "version=Baz",
                    "-i", "json_file")
    wait_log_while_running(hc, proc, lambda r: r.get("message") == "service is ready", what="service is ready")
    status, headers, _ = curl(port, "/once")
    assert headers["server"] == "Baz"
    wait_for(lambda: len(read_json_lines(alerts_file)) >= 1, what="the alert")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    assert [a["request"] for a in read_json_lines(alerts_file)] == ["GET /once HTTP/1.1"]


def test_port_in_use_fails_cleanly(hc, alerts_file):
    with socket.socket() as blocker:
        blocker.bind(("0.0.0.0", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        r = hc.run("service", "run", "simple_http", f"port={port}", "-i", "json_file", timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Address already in use" in r.stderr
    assert read_json_lines(alerts_file) == []


def test_port_in_use_message_is_plain(hc, alerts_file):
    with socket.socket() as blocker:
        blocker.bind(("0.0.0.0", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        r = hc.run("service", "run", "simple_http", f"port={port}", timeout=60)
    assert r.returncode == 1
    assert f"cannot listen on 0.0.0.0:{port}: Address already in use" in r.stderr
    assert "reactive_socket_service" not in r.stderr  # no library source locations for users


def test_out_of_range_port_is_refused(hc, alerts_file):
    r = hc.run("service", "run", "simple_http", "port=99999", timeout=60)
    assert r.returncode == 1
    assert "port must be from 0 to 65535 (got 99999)" in r.stderr


def test_sigint_stops_a_service_started_with_sigint_ignored(hc, alerts_file):
    # What a non-interactive shell does to `honeycomb ... &`. The host still
    # stops gracefully: it takes SIGINT with sigtimedwait while blocked, and
    # Linux queues a blocked signal even when its disposition is "ignore".
    port = free_port()
    proc = hc.spawn("service", "run", "simple_http", f"port={port}",
                    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    hc.wait_log(lambda r: r.get("message") == "service is ready", what="service is ready")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    assert "Caught KeyboardInterrupt, shutting service down gracefully" in [r.get("message") for r in hc.log_records()]
    assert port_closed(port)


# Whether the build linked the small executables statically (the default;
# sanitizer builds cannot). Set by tests/CMakeLists.txt; by hand, the default.
SMALL_STATIC = os.environ.get("HONEYCOMB_SMALL_STATIC", "1") == "1"


def mapped_files(pid):
    """The files mapped into a process (its executable and shared libraries)."""
    with open(f"/proc/{pid}/maps") as maps:
        return {line.split()[5] for line in maps if len(line.split()) >= 6 and line.split()[5].startswith("/")}


def test_the_service_runs_in_the_small_executable(hc, alerts_file):
    # `service run` resolves the request, then replaces itself with
    # honeycomb-service (statically linked: no libstdc++.so, no CLI, core or
    # node code at idle); same pid, same alerts.
    port = free_port()
    proc = start(hc, port)
    assert os.path.basename(os.readlink(f"/proc/{proc.pid}/exe")) == "honeycomb-service"
    if SMALL_STATIC:  # sanitizer builds link it dynamically
        assert not any("libstdc++" in f for f in mapped_files(proc.pid))
    curl(port, "/small")
    wait_for(lambda: any(a.get("request", "").startswith("GET /small") for a in read_json_lines(alerts_file)),
             what="the alert of GET /small")
    code, _, err = stop_process(proc, signal.SIGTERM)
    assert code == 0, err


def test_small_exec_zero_keeps_the_service_in_honeycomb(hc, alerts_file):
    port = free_port()
    proc = start(hc, port, env={**os.environ, "HONEYCOMB_SMALL_EXEC": "0"})
    assert os.path.basename(os.readlink(f"/proc/{proc.pid}/exe")) == "honeycomb"
    curl(port, "/big")
    wait_for(lambda: any(a.get("request", "").startswith("GET /big") for a in read_json_lines(alerts_file)),
             what="the alert of GET /big")
    code, _, err = stop_process(proc, signal.SIGTERM)
    assert code == 0, err
