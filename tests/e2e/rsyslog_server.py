"""A real rsyslogd for the syslog integration's end-to-end tests.

Runs `rsyslogd -n` with a private configuration in a temporary folder: UDP
and/or TCP (optionally TLS) listeners on 127.0.0.1, every received message
written to `received.log` as its raw text (one message per line), rsyslog's
own messages to `rsyslogd.log`. It loads no local inputs (no imuxsock,
no imklog) and writes nothing outside its folder.
"""
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

from conftest import port_open, wait_for

RSYSLOGD = "/usr/sbin/rsyslogd"

# <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG (our SD has no ']')
RFC5424 = re.compile(r"^<(?P<pri>\d{1,3})>1 (?P<timestamp>\S+) (?P<hostname>\S+) (?P<app>\S+) (?P<procid>\S+) "
                     r"(?P<msgid>\S+) (?P<sd>-|\[[^\]]*\]) (?P<msg>.*)$")


def parse_rfc5424(line):
    """The parts of an RFC 5424 line as a dict (raises if it is not one)."""
    m = RFC5424.match(line)
    if m is None:
        raise AssertionError(f"not an RFC 5424 message: {line!r}")
    out = m.groupdict()
    out["pri"] = int(out["pri"])
    out["sd_params"] = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', out["sd"]))
    return out


def parse_cef(msg):
    """A CEF line as (header fields, extension dict), unescaping both."""
    assert msg.startswith("CEF:"), msg
    header = []
    cur = ""
    i = 0
    while len(header) < 7:
        c = msg[i]
        if c == "\\":
            cur += msg[i + 1]
            i += 2
            continue
        if c == "|":
            header.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    ext_text = msg[i:]
    # Keys are word characters right after a space (or the start) and before
    # an unescaped '='.
    ext = {}
    for m in re.finditer(r"(?:^| )(\w+)=((?:[^\\=]|\\.)*?)(?= \w+=|$)", ext_text):
        value = re.sub(r"\\(.)", lambda e: {"n": "\n", "r": "\r"}.get(e.group(1), e.group(1)), m.group(2))
        ext[m.group(1)] = value
    return header, ext


def make_tls_files(folder: Path, cn="127.0.0.1"):
    """A self-signed CA and a server certificate for 127.0.0.1/localhost
    (made with the openssl CLI). Returns a dict of paths."""
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, text=True)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Honeycomb Test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={cn}")
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                       "basicConstraints=CA:FALSE\n"
                                       "keyUsage=digitalSignature\n"
                                       "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    return {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}


class RsyslogServer:
    """One rsyslogd. `udp_port`/`tcp_port` None: no such listener. `tls`:
    the dict of make_tls_files() to make the TCP listener TLS-only."""

    def __init__(self, folder: Path, udp_port=None, tcp_port=None, tls=None):
        self.folder = folder
        self.udp_port = udp_port
        self.tcp_port = tcp_port
        self.tls = tls
        self.proc = None
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "work").mkdir(exist_ok=True)
        self.received = self.folder / "received.log"
        self.internal = self.folder / "rsyslogd.log"
        self.conf = self.folder / "rsyslog.conf"
        self.pidfile = self.folder / "rsyslogd.pid"
        self.conf.write_text(self._config())

    def _config(self):
        g = [f'workDirectory="{self.folder / "work"}"', 'maxMessageSize="64k"']
        if self.tls:
            g += [f'defaultNetstreamDriverCAFile="{self.tls["ca"]}"',
                  f'defaultNetstreamDriverCertFile="{self.tls["cert"]}"',
                  f'defaultNetstreamDriverKeyFile="{self.tls["key"]}"']
        lines = ["global(" + " ".join(g) + ")",
                 # %rawmsg%: the message exactly as received (framing removed).
                 'template(name="raw" type="string" string="%rawmsg%\\n")',
                 'ruleset(name="remote") {',
                 f'  action(type="omfile" file="{self.received}" template="raw")',
                 '}']
        if self.udp_port:
            lines += ['module(load="imudp")',
                      f'input(type="imudp" address="127.0.0.1" port="{self.udp_port}" ruleset="remote")']
        if self.tcp_port:
            if self.tls:
                lines.append('module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" '
                             'StreamDriver.AuthMode="anon")')
            else:
                lines.append('module(load="imtcp")')
            lines.append(f'input(type="imtcp" address="127.0.0.1" port="{self.tcp_port}" ruleset="remote")')
        # rsyslog's own messages (start, errors) stay in this folder too.
        lines.append(f'*.* action(type="omfile" file="{self.internal}")')
        return "\n".join(lines) + "\n"

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        # Output to a file, not a pipe nobody reads (a full pipe would block it).
        with open(self.folder / "stdout.log", "a") as out:
            self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", str(self.conf), "-i", str(self.pidfile)],
                                         stdout=out, stderr=subprocess.STDOUT)
        self.wait_ready()
        return self

    def wait_ready(self, timeout=15.0):
        def ready():
            if self.proc.poll() is not None:
                out = (self.folder / "stdout.log").read_text(errors="replace")
                raise AssertionError(f"rsyslogd exited with {self.proc.returncode}:\n{out}\n{self.internal_log()}")
            if self.tcp_port and not port_open(self.tcp_port):
                return False
            if self.udp_port:
                # A UDP listener answers nothing: send probes until one is written.
                marker = f"rsyslog-ready-probe-{os.getpid()}"
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.sendto(f"<13>1 - - probe - - - {marker}".encode(), ("127.0.0.1", self.udp_port))
                return any(marker in line for line in self.lines())
            return True

        wait_for(ready, timeout=timeout, interval=0.05, what="rsyslogd to listen")

    def stop(self):
        """Stops rsyslogd (SIGTERM, then SIGKILL) and waits for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def lines(self):
        if not self.received.exists():
            return []
        return self.received.read_text(errors="replace").splitlines()

    def internal_log(self):
        return self.internal.read_text(errors="replace") if self.internal.exists() else ""

    def wait_line(self, predicate, timeout=15.0, what="a message at rsyslog"):
        """The first received line for which `predicate` is true."""
        try:
            return wait_for(lambda: next((line for line in self.lines() if predicate(line)), None),
                            timeout=timeout, what=what)
        except AssertionError as e:
            raise AssertionError(f"{e}\nreceived:\n" + "\n".join(self.lines()) +
                                 f"\nrsyslogd log:\n{self.internal_log()}") from None


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
