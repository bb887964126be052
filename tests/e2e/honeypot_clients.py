"""Clients the built-in honeypot tests share: a raw TCP client bound to a
chosen source address, a read-until helper, a flood of connections from many
loopback addresses, and the resident memory of a process."""
import os
import resource
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET


def connect(port, source="127.0.0.1", timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def recv_until(sock, marker, timeout=10):
    """Bytes received until `marker` appears (inclusive of all read so far)."""
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {marker!r}; got {data!r}")
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before {marker!r}; got {data!r}")
        data += chunk
    return data


def recv_until_closed(sock, limit=1 << 20):
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def is_closed(sock):
    """True when the peer has closed `sock` (without blocking)."""
    sock.settimeout(0.0)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


class Flood:
    """`per_source` connections from each of `sources` loopback addresses
    (127.0.1.x), each sending `payload`, held open until close()."""

    def __init__(self, port, sources=20, per_source=50, payload=None):
        self.soft, self.hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(self.hard, 8192), self.hard))
        self.sockets = []
        for source in range(sources):
            for _ in range(per_source):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((f"127.0.1.{source + 1}", 0))
                s.connect(("127.0.0.1", port))
                s.sendall(payload if payload is not None else os.urandom(512))
                self.sockets.append(s)

    def closed(self):
        return sum(is_closed(s) for s in self.sockets)

    def close(self):
        for s in self.sockets:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.soft, self.hard))


def memory_bound_kb(pid, release_mb):
    """`release_mb` in KiB, or a looser bound when `pid` runs under
    AddressSanitizer (its shadow memory and quarantine of freed blocks
    count in the resident set): bounded either way, not the same figure."""
    with open(f"/proc/{pid}/maps") as f:
        sanitized = any("libasan" in line for line in f)
    return (release_mb * 8 if sanitized else release_mb) * 1024


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def nmap_service(port):
    """(service name, product) as `nmap -sV` identifies 127.0.0.1:`port`."""
    assert shutil.which("nmap"), "nmap is installed by scripts/install-deps.sh"
    r = subprocess.run(["nmap", "-sV", "-Pn", "-n", "-p", str(port), "127.0.0.1", "-oX", "-"],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    service = ET.fromstring(r.stdout).find(".//port/service")
    assert service is not None, r.stdout
    return service.get("name"), service.get("product", "")


def hydra_attack(hc, tmp_path, start, url_scheme, users, passwords, tries=3, module_options=None):
    """Runs hydra (4 tasks) with `users` x `passwords` against a fresh
    service from `start()` -> (proc, port), its alerts in a fresh json_file
    output each try; returns (hydra's result, the alerts file), the service
    stopped. hydra 9.4 sometimes loses a worker on a loaded machine ("could
    not be connected", exit 255): only that failure of the tool is retried.
    `module_options`: the module's own argument (http-post-form's
    "path:form:condition"), after the target."""
    assert shutil.which("hydra"), "hydra is installed by scripts/install-deps.sh"
    (tmp_path / "users").write_text("\n".join(users) + "\n")
    (tmp_path / "passwords").write_text("\n".join(passwords) + "\n")
    for attempt in range(tries):
        alerts = tmp_path / f"hydra-alerts-{attempt}.json"
        hc.run("integration", "configure", "json_file", f"filepath={alerts}", check=True)
        proc, port = start()
        target = [f"{url_scheme}://127.0.0.1"] if module_options is None else ["127.0.0.1", url_scheme, module_options]
        r = subprocess.run(["hydra", "-L", str(tmp_path / "users"), "-P", str(tmp_path / "passwords"), "-t", "4",
                            "-I", "-s", str(port), *target],
                           capture_output=True, text=True, timeout=300)
        if r.returncode == 0:
            return r, alerts, proc
        proc.send_signal(2)
        proc.wait(timeout=30)
        assert "could not be connected" in r.stderr and attempt + 1 < tries, r.stdout + r.stderr
    raise AssertionError("unreachable")


def run_on_port_zero(hc, service, label, *args, timeout=60):
    """Runs `service` with port=0 (the kernel picks: no race with other
    tests for a free port) and the json_file output; returns the process
    and the port from its "Starting <label> service on port: N" record."""
    from conftest import wait_log_while_running
    proc = hc.spawn("service", "run", service, "port=0", *args, "-i", "json_file")
    record = wait_log_while_running(hc, proc, lambda r: r.get("process") == proc.pid and
                                    r.get("message", "").startswith(f"Starting {label} service on port: "),
                                    timeout=timeout, what=f"the Starting {label} record")
    return proc, int(record["message"].rsplit(" ", 1)[1])

