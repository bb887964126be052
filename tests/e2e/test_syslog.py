"""The syslog integration against a real rsyslogd: UDP, TCP (octet counting),
TCP with CEF, TLS; `integration test` success and failure; reconnection
after the server restarts."""
import json
import signal
import urllib.request

import pytest

from conftest import free_port, port_open, wait_for
from rsyslog_server import RsyslogServer, free_udp_port, make_tls_files, parse_cef, parse_rfc5424


@pytest.fixture
def rsyslog(tmp_path):
    """Factory of rsyslogd instances; all are killed at the end of the test."""
    servers = []

    def make(name="rsyslog", **kw):
        server = RsyslogServer(tmp_path / name, **kw)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.kill()


def configure(hc, *args):
    """Installs the syslog integration from the library (once) and saves `args`."""
    if not (hc.home / "integrations" / "syslog").exists():
        hc.run("integration", "install", "syslog", check=True)
    r = hc.run("integration", "configure", "syslog", *args, check=True)
    assert "syslog has been configured" in r.stdout


def run_http(hc):
    """Starts simple_http with the syslog integration; returns (process, port)."""
    hc.run("service", "install", "simple_http", check=True)
    port = free_port()
    proc = hc.spawn("service", "run", "simple_http", f"port={port}", "-i", "syslog")
    try:
        hc.wait_log(lambda r: "Starting Simple HTTP service on port" in r.get("message", ""),
                    what="simple_http to start")
    except AssertionError:
        if proc.poll() is not None:
            raise AssertionError(f"honeycomb exited with {proc.returncode}: {proc.stderr.read()}") from None
        raise
    wait_for(lambda: port_open(port), what="simple_http to listen")
    return proc, port


def http_get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        assert resp.status == 200
        assert "Welcome to nginx!" in resp.read().decode()


def alert_id(hc, marker):
    """The id of the alert whose request contains `marker`, from the debug log."""
    record = hc.wait_log(lambda r: r.get("event_type") == "simple_http" and marker in str(r.get("request", "")),
                         what=f"the alert for {marker} in the debug log")
    return record["id"]


def stop(proc):
    proc.send_signal(signal.SIGINT)
    rc = proc.wait(timeout=30)
    assert rc == 0, proc.stderr.read()


def assert_json_alert(line, hc, marker, facility=1):
    m = parse_rfc5424(line)
    assert m["pri"] == facility * 8 + 4  # severity warning for an Alert
    assert m["app"] == "honeycomb"
    assert m["msgid"] == "simple_http"
    assert m["procid"].isdigit()
    assert m["timestamp"].endswith("Z")
    alert = json.loads(m["msg"])
    assert alert["event_type"] == "simple_http"
    assert alert["event_description"] == "HTTP Server Interaction"
    assert alert["service"] == "simple_http"
    assert alert["originating_ip"] == "127.0.0.1"
    assert isinstance(alert["originating_port"], int)
    assert alert["request"] == f"GET {marker} HTTP/1.1"
    assert alert["timestamp"] == m["timestamp"]
    assert alert["id"] == alert_id(hc, marker)
    assert m["sd_params"] == {"id": alert["id"], "service": "simple_http", "event_type": "simple_http",
                              "status": "Alert"}


def test_udp(hc, rsyslog):
    server = rsyslog(udp_port=free_udp_port())
    configure(hc, "protocol=udp", "address=127.0.0.1", f"port={server.udp_port}")

    r = hc.run("integration", "test", "syslog")
    assert r.returncode == 0, r.stderr
    assert "test succeeded" in r.stdout and "UDP" in r.stdout
    test_line = server.wait_line(lambda l: "integration_test" in l, what="the test message")
    assert json.loads(parse_rfc5424(test_line)["msg"])["event_type"] == "integration_test"

    proc, port = run_http(hc)
    http_get(port, "/udp-probe?a=1")
    line = server.wait_line(lambda l: "/udp-probe?a=1" in l, what="the alert over UDP")
    assert_json_alert(line, hc, "/udp-probe?a=1")
    stop(proc)


def test_udp_without_server_fails(hc):
    port = free_udp_port()  # nothing listens there
    configure(hc, "protocol=udp", "address=127.0.0.1", f"port={port}")
    r = hc.run("integration", "test", "syslog")
    assert r.returncode != 0
    assert "test failed" in r.stderr and "no syslog server is listening" in r.stderr, r.stderr


def test_tcp_and_reconnect(hc, rsyslog):
    server = rsyslog(tcp_port=free_port())
    configure(hc, "protocol=tcp", "address=127.0.0.1", f"port={server.tcp_port}")

    r = hc.run("integration", "test", "syslog")
    assert r.returncode == 0, r.stderr
    assert "over TCP" in r.stdout
    server.wait_line(lambda l: "integration_test" in l, what="the test message")

    proc, port = run_http(hc)
    for i in range(3):
        http_get(port, f"/tcp-probe-{i}")
    for i in range(3):
        line = server.wait_line(lambda l, i=i: f"/tcp-probe-{i} " in l, what=f"alert {i} over TCP")
        assert_json_alert(line, hc, f"/tcp-probe-{i}")

    # The server goes away: the send fails (and is retried), the integration
    # reconnects on its own once the server is back, and nothing is lost.
    server.stop()
    http_get(port, "/after-restart")
    hc.wait_log(lambda r: "send failed" in r.get("message", "") and "syslog" in r.get("message", ""),
                what="a failed send to be logged")
    server.start()
    line = server.wait_line(lambda l: "/after-restart " in l, timeout=20, what="the alert sent after the restart")
    assert_json_alert(line, hc, "/after-restart")

    # A restart while connected: the dead connection is noticed before the
    # next write instead of swallowing the alert.
    server.stop()
    server.start()
    http_get(port, "/second-restart")
    server.wait_line(lambda l: "/second-restart " in l, timeout=20, what="the alert after a second restart")
    stop(proc)


def test_tcp_without_server_fails(hc):
    port = free_port()  # nothing listens there
    configure(hc, "protocol=tcp", "address=127.0.0.1", f"port={port}")
    r = hc.run("integration", "test", "syslog")
    assert r.returncode != 0
    assert "test failed" in r.stderr, r.stderr
    assert f"cannot connect to 127.0.0.1:{port} over TCP" in r.stderr
    assert "refused" in r.stderr.lower()


def test_tcp_cef(hc, rsyslog):
    server = rsyslog(tcp_port=free_port())
    configure(hc, "protocol=tcp", "address=127.0.0.1", f"port={server.tcp_port}", "cef_output_format=true",
              "facility=local3", "app_name=hc-test")
    r = hc.run("integration", "test", "syslog")
    assert r.returncode == 0, r.stderr
    test_line = server.wait_line(lambda l: "integration_test" in l, what="the test message")
    assert "CEF:0|Honeycomb|honeycomb|" in test_line

    proc, port = run_http(hc)
    http_get(port, "/cef-probe?user=a|b")
    line = server.wait_line(lambda l: "/cef-probe" in l, what="the CEF alert")
    m = parse_rfc5424(line)
    assert m["pri"] == 19 * 8 + 4  # local3.warning
    assert m["app"] == "hc-test"
    header, ext = parse_cef(m["msg"])
    assert header[0] == "CEF:0"
    assert header[1:] == ["Honeycomb", "simple_http", header[3], "simple_http", "HTTP Server Interaction", "7"]
    assert ext["src"] == "127.0.0.1"
    assert ext["spt"].isdigit()
    assert ext["request"] == "GET /cef-probe?user=a|b HTTP/1.1"
    assert "request=GET /cef-probe?user\\=a|b HTTP/1.1" in m["msg"]  # '=' escaped, '|' not
    assert ext["externalId"] == alert_id(hc, "/cef-probe")
    assert ext["cat"] == "Alert"
    assert ext["rt"].isdigit()
    stop(proc)


def test_tls(hc, rsyslog, tmp_path):
    tls = make_tls_files(tmp_path / "tls")
    server = rsyslog(tcp_port=free_port(), tls=tls)
    configure(hc, "protocol=tcp", "address=127.0.0.1", f"port={server.tcp_port}", "syslog_ssl_enabled=true",
              "tls_verify=true", f"tls_ca_file={tls['ca']}")
    r = hc.run("integration", "test", "syslog")
    assert r.returncode == 0, r.stderr
    assert "over TLS" in r.stdout and "server certificate verified" in r.stdout, r.stdout
    server.wait_line(lambda l: "integration_test" in l, what="the test message over TLS")

    proc, port = run_http(hc)
    http_get(port, "/tls-probe")
    line = server.wait_line(lambda l: "/tls-probe " in l, what="the alert over TLS")
    assert_json_alert(line, hc, "/tls-probe")
    stop(proc)

    # A server whose certificate the configured CA did not sign is refused...
    other = make_tls_files(tmp_path / "other-ca")
    configure(hc, "protocol=tcp", "address=127.0.0.1", f"port={server.tcp_port}", "syslog_ssl_enabled=true",
              "tls_verify=true", f"tls_ca_file={other['ca']}")
    r = hc.run("integration", "test", "syslog")
    assert r.returncode != 0
    assert "TLS handshake" in r.stderr and "certificate verify failed" in r.stderr, r.stderr

    # ... unless verification is off (the default).
    configure(hc, "protocol=tcp", "address=127.0.0.1", f"port={server.tcp_port}", "syslog_ssl_enabled=true")
    r = hc.run("integration", "test", "syslog")
    assert r.returncode == 0, r.stderr
    assert "NOT verified" in r.stdout


def test_tls_requires_tcp(hc):
    configure(hc, "protocol=udp", "address=127.0.0.1", "port=514", "syslog_ssl_enabled=true")
    r = hc.run("integration", "test", "syslog")
    assert r.returncode != 0
    assert "needs protocol=tcp" in r.stderr, r.stderr
