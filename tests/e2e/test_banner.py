"""The banner service with real clients: raw sockets, nmap -sV, and a flood of
connections from many source addresses while a legitimate client is served."""
import re
import signal
import socket

import pytest

from conftest import free_port, read_json_lines, stop_process, wait_for, wait_log_while_running
from honeypot_clients import Flood, connect, memory_bound_kb, nmap_service, recv_until_closed, rss_kb


@pytest.fixture
def alerts_file(hc, tmp_path):
    hc.run("service", "install", "banner", check=True)
    hc.run("integration", "install", "json_file", check=True)
    path = tmp_path / "alerts.json"
    hc.run("integration", "configure", "json_file", f"filepath={path}", check=True)
    return path


def start(hc, ports, *extra):
    listed = ", ".join(str(p) for p in ports)
    proc = hc.spawn("service", "run", "banner", "ports=" + ",".join(str(p) for p in ports), "-i", "json_file", *extra)
    wait_log_while_running(hc, proc, lambda r: r.get("message") == f"Starting Banner service on ports: {listed}",
                           what="the Starting Banner record")
    return proc


def events(path, event_type=None, session=None):
    return [a for a in read_json_lines(path)
            if (event_type is None or a["event_type"] == event_type) and (session is None or a["session"] == session)]


def test_banner_sent_and_first_bytes_recorded_per_port(hc, alerts_file):
    p1, p2 = free_port(), free_port()
    proc = start(hc, [p1, p2], "banner=hello \\x01\\r\\n")
    probe = b"\x16\x03\x01GET / HTTP/1.0\r\n\xff"
    seen = {}
    for port in (p1, p2):
        with connect(port) as s:
            assert s.recv(64) == b"hello \x01\r\n"
            s.sendall(probe)
            s.shutdown(socket.SHUT_WR)
            assert recv_until_closed(s) == b""
            seen[port] = s.getsockname()[1]
    wait_for(lambda: len(events(alerts_file, "banner.disconnect")) == 2, what="two banner.disconnect events")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err

    sessions = set()
    for port, src_port in seen.items():
        connects = [a for a in events(alerts_file, "banner.connect") if a["dest_port"] == port]
        assert len(connects) == 1, connects
        c = connects[0]
        assert (c["originating_ip"], c["originating_port"], c["dest_ip"]) == ("127.0.0.1", src_port, "127.0.0.1")
        assert re.fullmatch(r"[0-9a-f]{12}", c["session"])
        sessions.add(c["session"])
        [data] = events(alerts_file, "banner.data", c["session"])
        assert data["data_hex"] == probe.hex()
        assert data["data"] == "\\x16\\x03\\x01GET / HTTP/1.0\\r\\n\\xff"
        assert data["data_bytes"] == len(probe)
        assert data["dest_port"] == port
        [gone] = events(alerts_file, "banner.disconnect", c["session"])
        assert gone["reason"] == "closed by client"
        assert gone["bytes_in"] == len(probe)
        assert gone["duration_ms"] >= 0
    assert len(sessions) == 2


def test_read_bytes_bounds_what_is_recorded(hc, alerts_file):
    port = free_port()
    proc = start(hc, [port], "read_bytes=16")
    with connect(port) as s:
        s.sendall(b"A" * 100)
        s.shutdown(socket.SHUT_WR)
        recv_until_closed(s)
    [gone] = wait_for(lambda: events(alerts_file, "banner.disconnect"), what="the disconnect")
    stop_process(proc, signal.SIGINT)
    [data] = events(alerts_file, "banner.data")
    assert data["data"] == "A" * 16 and data["data_bytes"] == 16
    assert gone["bytes_in"] == 100


def test_idle_connection_is_closed_and_quiet_client_recorded(hc, alerts_file):
    port = free_port()
    proc = start(hc, [port], "idle_timeout=1")
    with connect(port) as s:
        s.sendall(b"SSH-2.0-libssh\r\n")  # then silence: the first message ends, later the idle timeout
        assert recv_until_closed(s) == b""
    [gone] = wait_for(lambda: events(alerts_file, "banner.disconnect"), what="the disconnect")
    stop_process(proc, signal.SIGINT)
    assert gone["reason"] == "idle timeout"
    [data] = events(alerts_file, "banner.data")
    assert data["data"] == "SSH-2.0-libssh\\r\\n"


def test_byte_cap_closes_the_connection_with_an_anomaly(hc, alerts_file):
    port = free_port()
    proc = start(hc, [port], "max_bytes=10000")
    with connect(port) as s:
        try:
            for _ in range(100):
                s.sendall(b"x" * 4096)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the service closed it: what this test wants
        recv_until_closed(s)
    [gone] = wait_for(lambda: events(alerts_file, "banner.disconnect"), what="the disconnect")
    stop_process(proc, signal.SIGINT)
    assert gone["reason"] == "byte cap"
    [anomaly] = events(alerts_file, "banner.anomaly")
    assert anomaly["reason"] == "byte cap" and anomaly["bytes_in"] > 10000
    assert anomaly["session"] == gone["session"]


def test_bad_parameters_are_refused_with_the_rule(hc, alerts_file):
    for arg, message in (("ports=21,x", "ports: 'x' is not a port"), ("ports=1-100", "more than 64 ports")):
        r = hc.run("service", "run", "banner", arg, "-i", "json_file", timeout=30)
        assert r.returncode != 0
        assert message in r.stdout + r.stderr, r.stdout + r.stderr
    r = hc.run("service", "run", "banner", f"ports={free_port()}", "banner=\\q", "-i", "json_file", timeout=30)
    assert r.returncode != 0
    assert "banner: unknown escape '\\q'" in r.stdout + r.stderr, r.stdout + r.stderr


@pytest.mark.parametrize("banner,name,product", [
    ("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\\r\\n", "ssh", "OpenSSH"),
    ("220 (vsFTPd 3.0.3)\\r\\n", "ftp", "vsftpd"),
    ("220 web-03.localdomain ESMTP Postfix (Debian/GNU)\\r\\n", "smtp", "Postfix smtpd"),
])
def test_nmap_identifies_the_banner(hc, alerts_file, banner, name, product):
    port = free_port()
    proc = start(hc, [port], f"banner={banner}")
    assert nmap_service(port) == (name, product)
    wait_for(lambda: events(alerts_file, "banner.disconnect"), what="nmap's connection recorded")
    stop_process(proc, signal.SIGINT)
    assert all(a["originating_ip"] == "127.0.0.1" for a in events(alerts_file, "banner.connect"))


def test_flood_from_many_sources_is_capped_while_a_client_is_served(hc, alerts_file):
    port = free_port()
    proc = start(hc, [port], "banner=220 ready\\r\\n", "max_per_ip=40", "max_connections=2000",
                 "idle_timeout=60")
    # 20 sources x 50 connections, each sending garbage: 40 per source admitted.
    flood = Flood(port, sources=20, per_source=50)
    try:
        record = wait_log_while_running(hc, proc, lambda r: "max_per_ip reached" in r.get("message", ""),
                                        what="a refusal logged")
        assert record["levelname"] == "WARNING"
        # Refused connections are closed by the service; admitted ones stay.
        wait_for(lambda: flood.closed() == 200, timeout=30, what="200 refused connections closed")
        with connect(port, source="127.0.0.2") as s:
            assert s.recv(64) == b"220 ready\r\n"
            s.sendall(b"USER legit\r\n")
            s.shutdown(socket.SHUT_WR)
            recv_until_closed(s)
            legit_port = s.getsockname()[1]
        wait_for(lambda: [a for a in events(alerts_file, "banner.disconnect") if a["originating_ip"] == "127.0.0.2"],
                 what="the legitimate client's disconnect")
        # By address and port: a flood connection from 127.0.1.x may have the same port number.
        [data] = [a for a in events(alerts_file, "banner.data")
                  if a["originating_ip"] == "127.0.0.2" and a["originating_port"] == legit_port]
        assert data["data"] == "USER legit\\r\\n"
        # 800 open connections with their first bytes: memory stays small.
        assert rss_kb(proc.pid) < memory_bound_kb(proc.pid, 64)
    finally:
        flood.close()
    wait_for(lambda: len(events(alerts_file, "banner.disconnect")) == 801, timeout=30,
             what="every admitted connection's disconnect")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    assert len(events(alerts_file, "banner.connect")) == 801


def test_service_test_against_a_daemon(hc, alerts_file):
    # On 127.0.0.1, not 0.0.0.0: the flood tests' closing client sockets
    # (bound to 127.0.1.x) may still hold the port free_port() returns.
    port = free_port()
    r = hc.run("service", "run", "banner", f"ports={port}", "address=127.0.0.1", "-d", "-i", "json_file", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        r = hc.run("service", "test", "banner", timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.splitlines() == [f"banner.{t} alert tested successfully" for t in ("connect", "data", "disconnect")]
        wait_for(lambda: events(alerts_file, "banner.disconnect"), what="the test connection's disconnect")
        [data] = events(alerts_file, "banner.data")
        assert data["data"] == "honeycomb-test\\r\\n"
    finally:
        hc.run("service", "stop", "banner", timeout=30)
