"""Services written for the Python Honeycomb framework (tests/e2e/python_plugins/)
run unchanged by the C++ host: what a user sees of their lifecycle, alerts,
logs and failures."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from conftest import (SOURCE_DIR, child_pids, free_port, pid_alive, port_closed, read_json_lines, stop_process,
                      wait_for, wait_log_while_running, wait_port_closed, wait_port_open)

PLUGINS = SOURCE_DIR / "tests" / "e2e" / "python_plugins"
# The interpreter running these tests runs the plugins too (its modules are known).
os.environ["HONEYCOMB_PYTHON"] = sys.executable


@pytest.fixture
def alerts_file(hc, tmp_path):
    """The C++ json_file integration installed and configured; returns its file."""
    hc.run("integration", "install", "json_file", check=True)
    path = tmp_path / "alerts.json"
    hc.run("integration", "configure", "json_file", f"filepath={path}", check=True)
    return path


def install(hc, name):
    r = hc.run("service", "install", PLUGINS / name)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"[+] {name} has been installed successfully (service)" in r.stdout
    return r


def child_pid(hc, proc, name):
    """The pid of the plugin's Python process, as the host logs it."""
    record = wait_log_while_running(hc, proc, lambda r: r.get("message", "").startswith(
        f"started the Python plugin {name}_service.py"), what="the child's pid")
    return int(re.search(r"pid: (\d+)", record["message"]).group(1))


def start(hc, name, *args):
    proc = hc.spawn("service", "run", name, *args)
    wait_log_while_running(hc, proc, lambda r: r.get("message") == "service is ready", what="service is ready")
    return proc


def test_http_plugin_alerts_logs_and_sigint(hc, alerts_file):
    install(hc, "py_http")
    port = free_port()
    proc = start(hc, "py_http", f"port={port}", "version=Apache", "-i", "json_file")
    pid = child_pid(hc, proc, "py_http")
    assert pid_alive(pid)

    bodies = []
    for i in range(3):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/p{i}", headers={"X-Extra": f"e{i}"} if i == 2 else {})
        with urllib.request.urlopen(req, timeout=10) as res:
            assert res.status == 200
            assert res.headers["Server"] == "Apache"
            bodies.append(res.read().decode())
    assert all("Welcome to nginx!" in b for b in bodies)
    wait_for(lambda: len(read_json_lines(alerts_file)) >= 3, what="3 alerts in the json_file output")

    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    wait_for(lambda: not pid_alive(pid), timeout=5, what="the Python child to exit")
    assert port_closed(port)

    alerts = read_json_lines(alerts_file)
    assert sorted(a["request"] for a in alerts) == [f"GET /p{i} HTTP/1.1" for i in range(3)]
    for a in alerts:
        assert a["event_type"] == "py_http"
        assert a["event_description"] == "HTTP Server Interaction"
        assert a["service"] == "py_http"
        assert a["originating_ip"] == "127.0.0.1"
        assert isinstance(a["originating_port"], int)
    # A nested dict arrives as JSON text.
    extra = [a for a in alerts if a["request"] == "GET /p2 HTTP/1.1"][0]
    assert extra["additional_fields"] == '{"x_extra":"e2","n":[1,2]}'

    records = hc.log_records()
    by_message = {r.get("message"): r for r in records}
    started = by_message[f"Starting Simple HTTP service on port: {port}"]
    assert started["name"] == "honeycomb.py_http" and started["levelname"] == "INFO"
    assert by_message["alert types: py_http"]["levelname"] == "WARNING"
    args = next(r for r in records if r.get("message", "").startswith("service args: "))
    assert args["levelname"] == "DEBUG"
    assert "('port', %d)" % port in args["message"] and "('version', 'Apache')" in args["message"]
    assert len([r for r in records if r.get("event_type") == "py_http"]) == 3
    messages = [r.get("message") for r in records]
    assert messages.index("Simple HTTP service stopped") > \
        messages.index("Caught KeyboardInterrupt, shutting service down gracefully")
    # The plugin's info records reach the console too.
    assert f"Starting Simple HTTP service on port: {port}" in err


def test_banner_sigterm_stops_plugin_and_what_it_started(hc, alerts_file):
    install(hc, "py_banner")
    port = free_port()
    proc = start(hc, "py_banner", f"port={port}", "spawn_helper=true", "-i", "json_file")
    pid = child_pid(hc, proc, "py_banner")
    helper = wait_log_while_running(hc, proc, lambda r: r.get("message", "").startswith("helper pid: "))
    helper_pid = int(helper["message"].split(": ")[1])
    assert pid_alive(helper_pid)

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        banner = s.recv(100)
        assert banner == b"SSH-2.0-OpenSSH_7.4\r\n"
        s.sendall(b"SSH-2.0-evil_scanner\r\n")
        local_port = s.getsockname()[1]
    wait_for(lambda: read_json_lines(alerts_file), what="the banner alert")

    code, _, err = stop_process(proc, signal.SIGTERM)
    assert code == 0, err
    # The plugin's process group goes with it: the child and its helper.
    wait_for(lambda: not pid_alive(pid) and not pid_alive(helper_pid), timeout=5, what="the plugin's processes to end")
    wait_port_closed(port, timeout=5)
    alerts = read_json_lines(alerts_file)
    assert len(alerts) == 1
    assert alerts[0]["event_type"] == "py_banner_connection"
    assert alerts[0]["request"] == "SSH-2.0-evil_scanner"
    assert alerts[0]["originating_port"] == local_port
    messages = [r.get("message") for r in hc.log_records()]
    assert "Caught SIGTERM, shutting service down gracefully" in messages
    assert "Banner service shutting down" in messages


def test_daemon_status_test_and_stop(hc):
    install(hc, "py_http")
    port = free_port()
    r = hc.run("service", "run", "-d", "py_http", f"port={port}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[+] py_http is running in the background (pid: " in r.stdout
    daemon_pid = int(re.search(r"pid: (\d+)", r.stdout).group(1))
    wait_port_open(port)
    assert hc.run("service", "status", "py_http").stdout.strip() == f"py_http - running (pid: {daemon_pid})"
    children = child_pids(daemon_pid)
    assert len(children) == 1

    r = hc.run("service", "test", "py_http")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "py_http alert tested successfully"

    r = hc.run("service", "stop", "py_http")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[*] py_http has been stopped" in r.stdout
    assert not pid_alive(daemon_pid)
    wait_for(lambda: not any(pid_alive(c) for c in children), timeout=5, what="the Python child to exit")
    wait_port_closed(port, timeout=5)
    logs = hc.run("service", "logs", "py_http", "-n", "50").stdout
    assert f"Starting Simple HTTP service on port: {port}" in logs
    assert "Simple HTTP service stopped" in logs


def test_service_test_fails_when_plugin_test_fails(hc):
    install(hc, "py_http")
    port = free_port()  # nothing listens there
    hc.run("service", "run", "py_http", "--show-args", check=True)
    (hc.home / "services" / "py_http" / ".args.json").write_text(f'{{"port": {port}}}')
    r = hc.run("service", "test", "-f", "py_http")
    assert r.returncode == 1
    assert "Error: py_http test() failed: URLError" in r.stderr
    assert "Traceback (most recent call last)" in r.stderr


def test_unknown_event_type_is_dropped_and_counted(hc, alerts_file):
    install(hc, "py_unknown_event")
    proc = start(hc, "py_unknown_event", "-i", "json_file")
    wait_for(lambda: read_json_lines(alerts_file), what="the known alert")
    wait_log_while_running(hc, proc, lambda r: r.get("message") == "alerts raised")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    alerts = read_json_lines(alerts_file)
    assert [a["request"] for a in alerts] == ["known one"]
    errors = [r["message"] for r in hc.log_records() if r.get("levelname") == "ERROR"]
    assert any("alert dropped: unknown event_type 'not_in_config'" in m for m in errors), errors
    assert any("alert dropped: unknown event_type ''" in m for m in errors), errors
    assert "alerts: 1 accepted, 2 dropped (unknown type), 0 dropped (queue full), 0 failed" in err


def test_plugin_that_never_signals_ready_is_reported_and_stopped(hc):
    install(hc, "py_never_ready")
    proc = hc.spawn("service", "run", "py_never_ready", "--ready-timeout", "1.5")
    pid = child_pid(hc, proc, "py_never_ready")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, out + err
    assert "service py_never_ready did not signal ready within 1.5 s; stopping it" in err
    messages = [r.get("message") for r in hc.log_records()]
    assert "never-ready service asked to shut down" in messages
    assert "service is ready" not in messages
    assert not pid_alive(pid)


def test_ready_timeout_from_the_environment(hc):
    install(hc, "py_never_ready")
    env = dict(os.environ, HONEYCOMB_READY_TIMEOUT="1")
    r = subprocess.run(hc.argv("service", "run", "py_never_ready"), capture_output=True, text=True, timeout=30,
                       env=env)
    assert r.returncode == 1
    assert "did not signal ready within 1 s" in r.stderr
    r = hc.run("service", "run", "py_never_ready", "--ready-timeout", "soon")
    assert r.returncode == 2
    assert "--ready-timeout must be a number of seconds greater than 0 (got 'soon')" in r.stderr


def test_crash_in_on_server_start_reports_the_traceback(hc):
    install(hc, "py_crash")
    r = hc.run("service", "run", "py_crash", timeout=30)
    assert r.returncode == 1
    for text in ("Traceback (most recent call last)", "in open_listener",
                 "RuntimeError: boom: cannot listen on port 4242"):
        assert text in r.stderr, r.stderr
    assert "service py_crash failed: RuntimeError: boom: cannot listen on port 4242" in r.stderr
    records = hc.log_records()
    crash = [r for r in records if r.get("levelname") == "ERROR" and "Traceback" in r.get("message", "")]
    assert len(crash) == 1
    assert crash[0]["message"].startswith("py_crash failed in on_server_start: RuntimeError: boom")
    assert "about to crash" in [r.get("message") for r in records]


def test_garbage_from_the_child_is_dropped_and_counted(hc, alerts_file):
    install(hc, "py_garbage")
    proc = start(hc, "py_garbage", "-i", "json_file")
    wait_for(lambda: len(read_json_lines(alerts_file)) >= 2, what="the alerts after the garbage")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    alerts = read_json_lines(alerts_file)
    assert [a["request"] for a in alerts] == ["still works", "bytes \ufffd value"]
    assert alerts[0]["originating_port"] == float(2 ** 70)
    messages = [r.get("message", "") for r in hc.log_records()]
    assert any(m.startswith("alert dropped: cannot serialise it to JSON") for m in messages)
    assert ("py_garbage: 7 messages from the Python child dropped (1 longer than 1048576 bytes, 5 malformed, "
            "1 bad alerts)") in messages, [m for m in messages if "dropped" in m]


def test_host_killed_takes_the_child_with_it(hc):
    install(hc, "py_banner")
    port = free_port()
    proc = start(hc, "py_banner", f"port={port}")
    pid = child_pid(hc, proc, "py_banner")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    wait_for(lambda: not pid_alive(pid), timeout=5, what="the orphaned child to die")
    wait_port_closed(port, timeout=5)


def test_editable_run_and_zip_install(hc, tmp_path):
    # A copy: an editable run saves its parameters (.args.json) in the folder.
    folder = tmp_path / "py_banner"
    shutil.copytree(PLUGINS / "py_banner", folder)
    port = free_port()
    proc = hc.spawn("service", "run", "-e", folder, f"port={port}")
    wait_log_while_running(hc, proc, lambda r: r.get("message") == f"Banner service listening on port {port}")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    # The plugin's folder gets no bytecode (the child runs with -B).
    assert not (folder / "__pycache__").exists()
    assert (folder / ".args.json").exists()

    archive = tmp_path / "py_banner.zip"
    subprocess.run(["zip", "-q", "-r", archive, "py_banner"], cwd=PLUGINS, check=True)
    r = hc.run("service", "install", archive)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[+] py_banner has been installed successfully (service)" in r.stdout
    assert "py_banner (Ports: Undefined) [Alerts: py_banner_connection]" in hc.run("service", "list").stdout


def test_missing_interpreter_is_a_clear_error(hc):
    install(hc, "py_banner")
    r = hc.run("--python", "/nonexistent/python9", "service", "run", "py_banner", "port=1")
    assert r.returncode == 1
    assert "Python interpreter `/nonexistent/python9` not found" in r.stderr


def test_docker_service_without_an_engine_says_so(hc):
    # No Docker engine runs on these machines: the DockerService surface
    # loads, and on_server_start() fails with a message saying what is missing.
    install(hc, "py_docker")
    r = hc.run("service", "run", "py_docker", timeout=30)
    assert r.returncode == 1
    assert "PyDockerService is a DockerService: it needs" in r.stderr, r.stderr
    assert ("the `docker` package is not installed" in r.stderr
            or "it needs a running Docker engine, and none is reachable" in r.stderr), r.stderr
    assert "service is ready" not in [rec.get("message") for rec in hc.log_records()]


def test_python_plugin_from_honeycomb_yml(hc, tmp_path):
    install(hc, "py_http")
    port = free_port()
    alerts = tmp_path / "yml-alerts.json"
    config = tmp_path / "honeycomb.yml"
    config.write_text(f"version: 1\nservices:\n  py_http:\n    parameters: {{port: {port}}}\n"
                      f"integrations:\n  json_file:\n    parameters: {{filepath: {alerts}}}\n")
    proc = hc.spawn("--config", config)
    wait_log_while_running(hc, proc, lambda r: r.get("message") == "service is ready", what="service is ready")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/from-yml", timeout=10) as res:
        assert res.status == 200
    lines = wait_for(lambda: read_json_lines(alerts), what="the alert in json_file")
    assert [a["event_type"] for a in lines] == ["py_http"]
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
