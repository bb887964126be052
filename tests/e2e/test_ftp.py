"""The ftp service with real clients: curl and lftp (listing, download,
upload into the quarantine), hydra's brute force, nmap -sV, active mode that
never connects out, caps on uploads, lines and connections."""
import hashlib
import os
import random
import shutil
import signal
import socket
import stat
import subprocess

import pytest

from conftest import free_port, read_json_lines, stop_process, wait_for, wait_log_while_running
from honeypot_clients import (Flood, connect, hydra_attack, memory_bound_kb, nmap_service, recv_until,
                              recv_until_closed, rss_kb, run_on_port_zero)


@pytest.fixture
def alerts_file(hc, tmp_path):
    hc.run("service", "install", "ftp", check=True)
    hc.run("integration", "install", "json_file", check=True)
    path = tmp_path / "alerts.json"
    hc.run("integration", "configure", "json_file", f"filepath={path}", check=True)
    return path


def start(hc, tmp_path, *extra):
    return run_on_port_zero(hc, "ftp", "FTP", f"quarantine={tmp_path / 'q'}", *extra)


def events(path, event_type=None):
    return [a for a in read_json_lines(path) if event_type is None or a["event_type"] == event_type]


def curl(*args):
    r = subprocess.run(["curl", "-s", "-S", "--max-time", "30", *args], capture_output=True, timeout=60)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def test_curl_lists_downloads_and_uploads_into_the_quarantine(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "credentials=user:pass", "accept_after=0")
    base = f"ftp://user:pass@127.0.0.1:{port}"
    rc, listing, err = curl(base + "/")
    assert rc == 0, err
    listing = listing.replace(b"\r\n", b"\n")  # curl lists in ASCII mode
    assert b" README\n" in listing and b" upload\n" in listing
    rc, readme, err = curl(base + "/README")
    assert rc == 0 and b"FTP archive" in readme, err
    payload = os.urandom(200_000)
    (tmp_path / "mal.bin").write_bytes(payload)
    for _ in range(2):  # the same content twice: kept once
        rc, _, err = curl("-T", str(tmp_path / "mal.bin"), base + "/upload/")
        assert rc == 0, err
    wait_for(lambda: len(events(alerts_file, "ftp.upload")) == 2, what="two ftp.upload events")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err

    digest = hashlib.sha256(payload).hexdigest()
    uploads = events(alerts_file, "ftp.upload")
    for u in uploads:
        assert (u["filename"], u["size"], u["sha256"], u["truncated"]) == ("/upload/mal.bin", len(payload), digest, False)
        assert u["stored"] == str(tmp_path / "q" / digest)
        assert u["username"] == "user" and u["originating_ip"] == "127.0.0.1"
    kept = tmp_path / "q" / digest
    assert kept.read_bytes() == payload
    assert stat.S_IMODE(kept.stat().st_mode) == 0o400  # never executable
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == [digest]
    [download] = events(alerts_file, "ftp.download")
    assert download["filename"] == "/README"
    assert [a["outcome"] for a in events(alerts_file, "ftp.login")] == ["success"] * 4


def test_lftp_session_is_recorded(hc, alerts_file, tmp_path):
    assert shutil.which("lftp"), "lftp is installed by scripts/install-deps.sh"
    proc, port = start(hc, tmp_path, "credentials=admin:admin", "accept_after=0")
    (tmp_path / "tool.sh").write_text("#!/bin/sh\necho pwned\n")
    r = subprocess.run(["lftp", "-u", "admin,admin", "-p", str(port), "-e",
                        f"set net:max-retries 1; ls; cd pub; cd ..; put {tmp_path / 'tool.sh'} -o tool.sh; bye",
                        "127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "README" in r.stdout
    [upload] = wait_for(lambda: events(alerts_file, "ftp.upload"), what="lftp's upload")
    stop_process(proc, signal.SIGINT)
    assert upload["filename"] == "/tool.sh"
    assert upload["sha256"] == hashlib.sha256(b"#!/bin/sh\necho pwned\n").hexdigest()
    commands = [a["cmd"] for a in events(alerts_file, "ftp.command")]
    assert all(c in commands for c in ("USER admin", "PASV", "LIST", "STOR tool.sh")), commands
    assert not any(c.startswith("PASS") for c in commands)  # passwords are in ftp.login only


def test_hydra_every_attempt_is_one_login_event(hc, alerts_file, tmp_path):
    users = ["root", "admin", "user", "support", "guest"]
    passwords = ["123456", "password", "admin", "12345", "root", "letmein"]
    r, alerts, proc = hydra_attack(
        hc, tmp_path, lambda: start(hc, tmp_path, "accept_after=0", "credentials=support:letmein"), "ftp", users,
        passwords)
    assert "login: support   password: letmein" in r.stdout, r.stdout
    expected = {(u, p) for u in users for p in passwords}
    wait_for(lambda: len(events(alerts, "ftp.login")) >= len(expected), timeout=30,
             what=f"{len(expected)} login events")
    stop_process(proc, signal.SIGINT)
    logins = events(alerts, "ftp.login")
    assert len(logins) == len(expected)
    assert {(a["username"], a["password"]) for a in logins} == expected


def test_nmap_identifies_vsftpd(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "banner=220 (vsFTPd 3.0.3)")
    assert nmap_service(port) == ("ftp", "vsftpd")
    stop_process(proc, signal.SIGINT)


def control(port, user="u", password="p"):
    s = connect(port)
    recv_until(s, b"220")
    s.sendall(f"USER {user}\r\nPASS {password}\r\n".encode())
    recv_until(s, b"230 Login successful.\r\n")
    return s


def test_active_mode_is_recorded_and_never_connects_out(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "credentials=u:p", "accept_after=0")
    with socket.socket() as target:
        target.bind(("127.0.0.1", 0))
        target.listen(1)
        target.setblocking(False)
        tport = target.getsockname()[1]
        with control(port) as s:
            s.sendall(f"PORT 127,0,0,1,{tport // 256},{tport % 256}\r\n".encode())
            assert b"200 PORT command successful" in recv_until(s, b"\r\n")
            s.sendall(b"LIST\r\n")
            assert b"425 Failed to establish connection.\r\n" in recv_until(s, b"425")
            s.sendall(f"EPRT |1|127.0.0.1|{tport}|\r\nRETR README\r\n".encode())
            assert b"425 Failed to establish connection.\r\n" in recv_until(s, b"425")
        # The answers came after the server decided: no connection was made.
        with pytest.raises(BlockingIOError):
            target.accept()
    stop_process(proc, signal.SIGINT)
    assert any(a["cmd"].startswith("PORT 127,0,0,1") for a in events(alerts_file, "ftp.command"))


def test_upload_over_the_cap_is_cut_and_quarantine_cap_holds(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "credentials=u:p", "accept_after=0", "max_upload_mb=1", "quarantine_max_mb=1")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1_500_000))
    rc, _, err = curl("-T", str(big), f"ftp://u:p@127.0.0.1:{port}/")
    assert rc != 0  # the server answered 552
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 1000)
    rc, _, err = curl("-T", str(small), f"ftp://u:p@127.0.0.1:{port}/")
    assert rc == 0, err
    wait_for(lambda: len(events(alerts_file, "ftp.upload")) == 2, what="two uploads")
    stop_process(proc, signal.SIGINT)
    cut, second = events(alerts_file, "ftp.upload")
    assert cut["truncated"] is True and cut["size"] == 1 << 20
    assert cut["sha256"] == hashlib.sha256(big.read_bytes()[:1 << 20]).hexdigest()
    assert [a["reason"] for a in events(alerts_file, "ftp.anomaly")] == ["upload too large"]
    # The cut upload filled the 1 MiB quarantine: the next is hashed, not kept.
    assert second["stored"] == "" and second["not_stored"] == "quarantine full"
    assert second["sha256"] == hashlib.sha256(b"x" * 1000).hexdigest()


def test_commands_before_login_and_hostile_lines(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "credentials=u:p", "accept_after=0", "max_line=128")
    rng = random.Random(11)
    for _ in range(20):
        with connect(port) as s:
            recv_until(s, b"220")
            s.sendall(bytes(rng.randrange(256) for _ in range(rng.randint(1, 3000))))
    with connect(port) as s:
        recv_until(s, b"220")
        s.sendall(b"LIST\r\nSYST\r\n")
        assert recv_until(s, b"530 Please login with USER and PASS.\r\n530") .count(b"530") == 2
        s.sendall(b"USER " + b"A" * 500 + b"\r\nPASS x\r\n")
        assert b"530 Login incorrect." in recv_until(s, b"530 Login incorrect.")
        s.sendall(b"USER u\r\nPASS p\r\nPWD\r\nQUIT\r\n")
        assert b'257 "/" is the current directory\r\n221 Goodbye.\r\n' in recv_until_closed(s)
        session_port = s.getsockname()[1]
    wait_for(lambda: [a for a in events(alerts_file, "ftp.disconnect") if a["originating_port"] == session_port],
             what="the session's disconnect")
    stop_process(proc, signal.SIGINT)
    [anomaly] = [a for a in events(alerts_file, "ftp.anomaly") if a["originating_port"] == session_port]
    assert anomaly["reason"] == "line too long"
    [gone] = [a for a in events(alerts_file, "ftp.disconnect") if a["originating_port"] == session_port]
    assert gone["reason"] == "quit" and gone["login_attempts"] == 2


def test_flood_is_capped_while_a_client_logs_in(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "max_per_ip=40", "max_connections=2000", "credentials=u:p", "accept_after=0")
    junk = bytes(b for b in random.Random(5).randbytes(2048) if b not in (10, 13))[:512]
    flood = Flood(port, sources=20, per_source=50, payload=junk)
    try:
        wait_log_while_running(hc, proc, lambda r: "max_per_ip reached" in r.get("message", ""),
                               what="a refusal logged")
        wait_for(lambda: flood.closed() == 200, timeout=30, what="200 refused connections closed")
        with connect(port, source="127.0.0.2") as s:
            recv_until(s, b"220")
            s.sendall(b"USER u\r\nPASS p\r\nSYST\r\n")
            assert b"215 UNIX Type: L8\r\n" in recv_until(s, b"215 UNIX Type: L8\r\n")
        assert rss_kb(proc.pid) < memory_bound_kb(proc.pid, 64)
    finally:
        flood.close()
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err


def test_service_test_against_a_daemon(hc, alerts_file, tmp_path):
    # On 127.0.0.1, not 0.0.0.0: the flood tests' closing client sockets
    # (bound to 127.0.1.x) may still hold the port free_port() returns.
    port = free_port()
    r = hc.run("service", "run", "ftp", f"port={port}", "address=127.0.0.1", f"quarantine={tmp_path / 'q'}", "-d", "-i", "json_file",
               timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        r = hc.run("service", "test", "ftp", timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.splitlines() == [f"ftp.{t} alert tested successfully" for t in ("connect", "login", "disconnect")]
    finally:
        hc.run("service", "stop", "ftp", timeout=30)
