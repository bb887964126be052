"""Root only to bind: every built-in TCP honeypot started as root runs as
run_as (default nobody) once its port is bound, and still records what
attackers do -- into an output file in a folder only root may enter, and,
for ftp, into a quarantine there too. As another user, nothing changes."""
import os
import pwd
import signal
import subprocess

import pytest

from conftest import free_port, read_json_lines, stop_process, wait_for, wait_log_while_running
from honeypot_clients import connect, recv_until

ROOT = os.geteuid() == 0
NOBODY = pwd.getpwnam("nobody").pw_uid

# service -> (extra parameters, what a client sends, the event it records)
SERVICES = {
    "banner": ([], b"hello\r\n", "banner.data"),
    "telnet": (["accept_after=0"], b"user\r\npass\r\n", "telnet.login"),
    "ftp": (["accept_after=0"], b"USER anonymous\r\nPASS x@y\r\n", "ftp.login"),
    "ssh": ([], b"SSH-2.0-probe\r\n", "ssh.disconnect"),
    "http": ([], b"GET /wp-login.php HTTP/1.0\r\n\r\n", "http.request"),
}


def uids(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(tuple(map(int, line.split()[1:])) for line in f if line.startswith("Uid:"))


def start(hc, tmp_path, service, *extra):
    """Runs `service` with its files (output, host keys, quarantine) in a
    folder only root may enter; returns the process, its port and the
    output file."""
    private = tmp_path / "root-only"
    private.mkdir(mode=0o700, exist_ok=True)
    alerts = private / f"{service}.json"
    hc.run("service", "install", service, check=True)
    hc.run("integration", "install", "json_file")
    hc.run("integration", "configure", "json_file", f"filepath={alerts}", check=True)
    args = [f"ports={free_port()}"] if service == "banner" else ["port=0"]
    if service == "ssh":
        args.append(f"host_keys={private / 'keys'}")
    if service == "ftp":
        args.append(f"quarantine={private / 'q'}")
    proc = hc.spawn("service", "run", service, *args, *extra, "-i", "json_file")
    record = wait_log_while_running(hc, proc, lambda r: r.get("process") == proc.pid and
                                    " service on port" in r.get("message", ""), what="the start-up record")
    return proc, int(record["message"].rsplit(" ", 1)[1]), alerts


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_root_is_dropped_once_the_port_is_bound(hc, tmp_path, service):
    extra, probe, event_type = SERVICES[service]
    proc, port, alerts = start(hc, tmp_path, service, *extra)
    with connect(port) as s:
        if service == "telnet":
            recv_until(s, b"login: ")
        elif service in ("ftp", "ssh"):
            recv_until(s, b"\r\n")
        s.sendall(probe)
        s.shutdown(1)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
    wait_for(lambda: [a for a in read_json_lines(alerts) if a["event_type"] == event_type], what=event_type)
    if ROOT:
        assert uids(proc.pid) == (NOBODY,) * 4
        assert hc.wait_log(lambda r: r.get("process") == proc.pid and
                           r.get("message", "").startswith(f"running as nobody (uid {NOBODY}) from now on"))
    else:
        assert uids(proc.pid)[0] == os.geteuid()  # nothing to drop
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err


def test_ftp_uploads_are_kept_after_the_drop(hc, tmp_path):
    proc, port, alerts = start(hc, tmp_path, "ftp", "accept_after=0", "credentials=u:p")
    upload = tmp_path / "payload.sh"
    upload.write_text("#!/bin/sh\necho pwned\n")
    r = subprocess.run(["curl", "-s", "-T", str(upload), f"ftp://u:p@127.0.0.1:{port}/upload/payload.sh"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    [stored] = wait_for(lambda: [a for a in read_json_lines(alerts) if a["event_type"] == "ftp.upload"],
                        what="the upload")
    stop_process(proc, signal.SIGINT)
    kept = tmp_path / "root-only" / "q" / stored["sha256"]
    assert stored["stored"] == str(kept) and kept.read_text() == "#!/bin/sh\necho pwned\n"
    if ROOT:
        assert kept.stat().st_uid == NOBODY


def test_run_as_root_keeps_root_and_says_so(hc, tmp_path):
    proc, _, _ = start(hc, tmp_path, "telnet", "run_as=root")
    if ROOT:
        assert uids(proc.pid)[0] == 0
        assert hc.wait_log(lambda r: r.get("process") == proc.pid and "still running as root" in r.get("message", ""))
    stop_process(proc, signal.SIGINT)


def test_an_unknown_account_is_refused_by_name(hc, tmp_path):
    if ROOT:
        hc.run("service", "install", "telnet", check=True)
        r = hc.run("service", "run", "telnet", "port=0", "run_as=no-such-user-here", timeout=60)
        assert r.returncode != 0
        assert "run_as: no account named 'no-such-user-here'" in r.stdout + r.stderr
    else:
        # Only root switches accounts, so only root looks the name up.
        proc, _, _ = start(hc, tmp_path, "telnet", "run_as=no-such-user-here")
        assert uids(proc.pid)[0] == os.geteuid()
        stop_process(proc, signal.SIGINT)
