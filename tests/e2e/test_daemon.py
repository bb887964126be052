"""`service run -d` and the commands that manage a daemon: status, test,
logs, stop, stale pidfiles and double starts."""
import re
import subprocess
import time

import pytest

from conftest import free_port, pid_alive, port_open, read_json_lines, wait_for, wait_port_closed


@pytest.fixture
def setup(hc, tmp_path):
    hc.run("service", "install", "simple_http", check=True)
    hc.run("integration", "install", "json_file", check=True)
    alerts = tmp_path / "alerts.json"
    hc.run("integration", "configure", "json_file", f"filepath={alerts}", check=True)
    return alerts


def start_daemon(hc, port):
    began = time.monotonic()
    r = hc.run("service", "run", "-d", "simple_http", f"port={port}", "-i", "json_file", timeout=40)
    took = time.monotonic() - began
    assert r.returncode == 0, r.stdout + r.stderr
    assert took < 15, f"the daemon start took {took:.1f}s"
    m = re.search(r"pid: (\d+)", r.stdout)
    assert m, r.stdout
    pid = int(m.group(1))
    assert pid_alive(pid)
    # The command returns once the service is ready: it serves right away.
    assert port_open(port)
    return pid


def test_daemon_lifecycle(hc, setup):
    alerts = setup
    port = free_port()
    pid = start_daemon(hc, port)
    pidfile = hc.home / "services" / "simple_http.pid"
    assert pidfile.read_text().strip() == str(pid)

    r = hc.run("service", "status", "simple_http")
    assert r.returncode == 0
    assert r.stdout.splitlines() == [f"simple_http - running (pid: {pid})"]
    r = hc.run("service", "status", "-a")
    assert r.stdout.splitlines() == [f"simple_http - running (pid: {pid})"]
    r = hc.run("service", "status", "--show-all")
    assert r.stdout.splitlines() == [f"simple_http - running (pid: {pid})"]

    r = hc.run("service", "test", "simple_http", timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "simple_http alert tested successfully" in r.stdout.splitlines()
    # The test's request went through the daemon's pipeline to json_file.
    wait_for(lambda: len(read_json_lines(alerts)) >= 1, what="the test alert in the json file")

    # The daemon's log: the human-readable records in logs/stdout.log.
    stdout_log = hc.home / "services" / "simple_http" / "logs" / "stdout.log"
    wait_for(lambda: stdout_log.exists() and f"Starting Simple HTTP service on port: {port}" in stdout_log.read_text(),
             what="the Starting line in stdout.log")
    r = hc.run("service", "logs", "simple_http", "-n", "5")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert 1 <= len(lines) <= 5
    assert lines == stdout_log.read_text().splitlines()[-len(lines):]
    r = hc.run("service", "logs", "simple_http", "--num", "100")
    assert any(f"Starting Simple HTTP service on port: {port}" in line for line in r.stdout.splitlines())
    r = hc.run("service", "logs", "simple_http", "-n", "1")
    assert len(r.stdout.splitlines()) == 1

    r = hc.run("service", "stop", "simple_http", timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not pid_alive(pid)
    wait_port_closed(port, timeout=5)
    assert not pidfile.exists()
    r = hc.run("service", "status", "simple_http")
    assert r.stdout.splitlines() == ["simple_http - not running"]
    assert any("Simple HTTP service stopped" in line for line in stdout_log.read_text().splitlines())

    # Stopping again: nothing to stop.
    r = hc.run("service", "stop", "simple_http")
    assert r.returncode != 0
    assert "simple_http is not running" in r.stderr


def test_stale_pidfile(hc, setup):
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert not pid_alive(dead.pid)
    pidfile = hc.home / "services" / "simple_http.pid"
    pidfile.write_text(f"{dead.pid}\n")
    r = hc.run("service", "status", "simple_http")
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["simple_http - not running (stale pidfile)"]

    # A stale pidfile does not prevent a start; the new daemon replaces it.
    port = free_port()
    pid = start_daemon(hc, port)
    assert pidfile.read_text().strip() == str(pid)
    assert hc.run("service", "status", "simple_http").stdout.splitlines() == [f"simple_http - running (pid: {pid})"]
    r = hc.run("service", "stop", "simple_http", timeout=30)
    assert r.returncode == 0, r.stderr
    wait_port_closed(port, timeout=5)


def test_test_when_not_running(hc, setup):
    r = hc.run("service", "test", "simple_http")
    assert r.returncode != 0
    assert "Unable to test simple_http because it is not running" in r.stdout + r.stderr
    assert "tested successfully" not in r.stdout


def test_second_daemon_is_refused(hc, setup):
    port = free_port()
    pid = start_daemon(hc, port)
    other_port = free_port()
    r = hc.run("service", "run", "-d", "simple_http", f"port={other_port}", "-i", "json_file", timeout=40)
    assert r.returncode != 0
    assert "simple_http is already running" in r.stderr
    assert str(pid) in r.stderr
    assert not port_open(other_port)
    # The first one is untouched.
    assert pid_alive(pid)
    assert (hc.home / "services" / "simple_http.pid").read_text().strip() == str(pid)
    assert port_open(port)
    # A foreground run is refused too.
    r = hc.run("service", "run", "simple_http", f"port={other_port}", timeout=40)
    assert r.returncode != 0
    assert "simple_http is already running" in r.stderr
    r = hc.run("service", "stop", "simple_http", timeout=30)
    assert r.returncode == 0, r.stderr
    wait_port_closed(port, timeout=5)


def test_daemon_that_cannot_start_reports_failure(hc, setup):
    # The port is taken: the daemon cannot listen, and the command says so.
    import socket
    with socket.socket() as blocker:
        blocker.bind(("0.0.0.0", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        r = hc.run("service", "run", "-d", "simple_http", f"port={port}", timeout=60)
        assert r.returncode != 0
        assert "simple_http failed to start" in r.stderr
    assert not (hc.home / "services" / "simple_http.pid").exists()
    assert hc.run("service", "status", "simple_http").stdout.splitlines() == ["simple_http - not running"]


def test_uninstall_of_a_running_daemon_is_refused(hc, setup):
    port = free_port()
    pid = start_daemon(hc, port)
    r = hc.run("service", "uninstall", "--yes", "simple_http")
    assert r.returncode != 0
    assert "simple_http is running" in r.stderr
    assert (hc.home / "services" / "simple_http" / "config.json").is_file()
    assert pid_alive(pid) and port_open(port)
    hc.run("service", "stop", "simple_http", check=True, timeout=30)
    r = hc.run("service", "uninstall", "--yes", "simple_http")
    assert r.returncode == 0, r.stderr
    assert not (hc.home / "services" / "simple_http").exists()


def test_logs_follow(hc, setup):
    import os
    import signal
    port = free_port()
    start_daemon(hc, port)
    follower = hc.spawn("service", "logs", "simple_http", "-f")
    os.set_blocking(follower.stdout.fileno(), False)
    seen = []

    def output_has(text):
        try:
            chunk = os.read(follower.stdout.fileno(), 65536)
        except BlockingIOError:
            chunk = b""
        seen.append(chunk.decode(errors="replace"))
        return text in "".join(seen)

    wait_for(lambda: output_has(f"Starting Simple HTTP service on port: {port}"), what="the existing lines")
    # Lines written after `logs -f` started show up too.
    hc.run("service", "stop", "simple_http", check=True, timeout=30)
    wait_for(lambda: output_has("Simple HTTP service stopped"), what="the line written by the stop")
    assert follower.poll() is None  # still following
    follower.send_signal(signal.SIGINT)
    follower.wait(timeout=10)
