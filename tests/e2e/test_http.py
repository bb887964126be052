"""The http service with real clients: curl on the WordPress and admin login
pages, hydra's http-post-form brute force, nmap -sV, hostile requests and a
flood of connections while a legitimate client is served."""
import random
import signal
import subprocess

import pytest

from conftest import free_port, read_json_lines, stop_process, wait_for, wait_log_while_running
from honeypot_clients import (Flood, connect, hydra_attack, memory_bound_kb, nmap_service, recv_until,
                              recv_until_closed, rss_kb, run_on_port_zero)


@pytest.fixture
def alerts_file(hc, tmp_path):
    hc.run("service", "install", "http", check=True)
    hc.run("integration", "install", "json_file", check=True)
    path = tmp_path / "alerts.json"
    hc.run("integration", "configure", "json_file", f"filepath={path}", check=True)
    return path


def start(hc, *extra):
    return run_on_port_zero(hc, "http", "HTTP", "title=Honey Blog", *extra)


def curl(port, path, *args, source="127.0.0.1"):
    """(status, headers, body) of one request with curl."""
    r = subprocess.run(["curl", "-s", "-i", "--interface", source, "--max-time", "20", *args,
                        f"http://127.0.0.1:{port}{path}"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body.decode(errors="replace")


def events(path, event_type=None):
    return [a for a in read_json_lines(path) if event_type is None or a["event_type"] == event_type]


def test_wordpress_login_attempts_are_recorded(hc, alerts_file):
    proc, port = start(hc, "server=nginx/1.22.1")
    status, headers, body = curl(port, "/wp-login.php", "-A", "Mozilla/5.0 (X11; Linux x86_64)")
    assert status == 200 and headers["server"] == "nginx/1.22.1"
    assert "wordpress_test_cookie" in headers["set-cookie"]
    assert '<form name="loginform" id="loginform" action="/wp-login.php" method="post">' in body
    assert "Log In &lsaquo; Honey Blog &#8212; WordPress" in body
    status, _, body = curl(port, "/wp-login.php", "-d", "log=<b>admin</b>&pwd=p%40ss+word&wp-submit=Log+In")
    assert status == 200
    # The user name comes back escaped, as WordPress does.
    assert "The password you entered for the username <strong>&lt;b&gt;admin&lt;/b&gt;</strong> is incorrect." in body
    status, headers, _ = curl(port, "/wp-admin/")
    assert (status, headers["location"]) == (302, "/wp-login.php?redirect_to=%2Fwp-admin%2F&reauth=1")
    status, _, body = curl(port, "/")
    assert status == 200 and 'content="WordPress 6.4.3"' in body
    status, _, body = curl(port, "/.env")
    assert status == 404 and "<hr><center>nginx/1.22.1</center>" in body
    wait_for(lambda: len(events(alerts_file, "http.request")) == 5, what="five requests")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    [login] = events(alerts_file, "http.login")
    assert (login["username"], login["password"], login["page"], login["outcome"], login["path"]) == (
        "<b>admin</b>", "p@ss word", "wordpress", "failure", "/wp-login.php")
    requests = events(alerts_file, "http.request")
    assert [(r["method"], r["path"], r["http_status"]) for r in requests] == [
        ("GET", "/wp-login.php", 200), ("POST", "/wp-login.php", 200), ("GET", "/wp-admin/", 302),
        ("GET", "/", 200), ("GET", "/.env", 404)]
    assert requests[0]["user_agent"] == "Mozilla/5.0 (X11; Linux x86_64)"
    assert requests[0]["originating_ip"] == "127.0.0.1" and requests[0]["dest_port"] == port


def test_xmlrpc_multicall_brute_force_is_one_login_per_call(hc, alerts_file):
    proc, port = start(hc)
    calls = "".join(
        "<value><struct><member><name>methodName</name><value><string>wp.getUsersBlogs</string></value></member>"
        "<member><name>params</name><value><array><data><value><string>admin</string></value>"
        f"<value><string>{password}</string></value></data></array></value></member></struct></value>"
        for password in ("123456", "qwerty", "admin&amp;1"))
    body = ("<?xml version=\"1.0\"?><methodCall><methodName>system.multicall</methodName><params><param><value>"
            f"<array><data>{calls}</data></array></value></param></params></methodCall>")
    status, headers, answer = curl(port, "/xmlrpc.php", "-H", "Content-Type: text/xml", "--data-binary", body)
    assert status == 200 and "Incorrect username or password." in answer
    wait_for(lambda: len(events(alerts_file, "http.login")) == 3, what="three logins")
    stop_process(proc, signal.SIGINT)
    assert [(a["username"], a["password"], a["page"]) for a in events(alerts_file, "http.login")] == [
        ("admin", "123456", "wordpress-xmlrpc"), ("admin", "qwerty", "wordpress-xmlrpc"),
        ("admin", "admin&1", "wordpress-xmlrpc")]


def test_admin_panel_lets_listed_credentials_in(hc, alerts_file):
    proc, port = start(hc, "pages=admin", "credentials=admin:admin123", "server=Apache/2.4.62 (Debian)")
    status, headers, _ = curl(port, "/")
    assert (status, headers["location"]) == (302, "/admin/login")
    status, _, body = curl(port, "/admin/login", "-d", "username=root&password=toor")
    assert status == 200 and "Invalid username or password." in body
    status, headers, _ = curl(port, "/admin/login", "-d", "username=admin&password=admin123")
    assert status == 302 and headers["location"] == "/admin/dashboard"
    cookie = headers["set-cookie"].split(";")[0]
    assert curl(port, "/admin/dashboard", "-H", f"Cookie: {cookie}")[0] == 200
    assert curl(port, "/admin/dashboard")[0] == 302
    status, _, body = curl(port, "/wp-login.php")  # not served: only the admin pages
    assert status == 404 and "The requested URL was not found on this server." in body
    wait_for(lambda: len(events(alerts_file, "http.login")) == 2, what="two logins")
    stop_process(proc, signal.SIGINT)
    assert [(a["username"], a["outcome"], a["page"]) for a in events(alerts_file, "http.login")] == [
        ("root", "failure", "admin"), ("admin", "success", "admin")]


def test_hydra_http_post_form_every_attempt_is_one_login_event(hc, alerts_file, tmp_path):
    users = ["admin", "editor", "wpadmin", "test"]
    passwords = ["123456", "password", "admin", "qwerty", "letmein"]
    r, alerts, proc = hydra_attack(
        hc, tmp_path, lambda: start(hc, "credentials=editor:qwerty"), "http-post-form", users, passwords,
        module_options="/wp-login.php:log=^USER^&pwd=^PASS^&wp-submit=Log+In:F=is incorrect")
    assert "login: editor   password: qwerty" in r.stdout, r.stdout
    assert "1 valid password found" in r.stdout, r.stdout
    expected = {(u, p) for u in users for p in passwords}
    wait_for(lambda: len(events(alerts, "http.login")) >= len(expected), timeout=30,
             what=f"{len(expected)} login events")
    stop_process(proc, signal.SIGINT)
    logins = events(alerts, "http.login")
    assert len(logins) == len(expected)
    assert {(a["username"], a["password"]) for a in logins} == expected
    assert [(a["username"], a["password"]) for a in logins if a["outcome"] == "success"] == [("editor", "qwerty")]


def test_nmap_identifies_the_server_header(hc, alerts_file):
    proc, port = start(hc, "server=nginx/1.22.1")
    assert nmap_service(port) == ("http", "nginx")
    stop_process(proc, signal.SIGINT)


def test_hostile_requests_are_refused_and_recorded(hc, alerts_file):
    proc, port = start(hc, "max_body=1024")
    with connect(port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nX-Junk: " + b"A" * 10000 + b"\r\n\r\n")
        assert recv_until_closed(s).startswith(b"HTTP/1.1 431 ")
    with connect(port) as s:
        s.sendall(b"POST /wp-login.php HTTP/1.1\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
        assert recv_until_closed(s).startswith(b"HTTP/1.1 413 ")
    with connect(port) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) + b"\r\n\r\n")
        assert recv_until_closed(s).startswith(b"HTTP/1.1 400 ")
    rng = random.Random(5)
    for _ in range(20):
        with connect(port) as s:
            try:
                s.sendall(rng.randbytes(rng.randint(1, 3000)))
                s.shutdown(1)
            except OSError:
                pass  # the server may have answered 400 and closed already
            recv_until_closed(s)
    assert curl(port, "/wp-login.php")[0] == 200  # still serving
    wait_for(lambda: len(events(alerts_file, "http.anomaly")) >= 3, what="the anomalies")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    reasons = [a["reason"] for a in events(alerts_file, "http.anomaly")]
    assert reasons[:3] == ["header too large", "body too large", "bad request"]


def test_flood_is_capped_while_a_client_is_served(hc, alerts_file):
    proc, port = start(hc, "max_per_ip=40", "max_connections=2000")
    # Requests that never end their headers: every admitted connection waits.
    flood = Flood(port, sources=20, per_source=50, payload=b"GET / HTTP/1.1\r\nHost: x\r\n")
    try:
        wait_log_while_running(hc, proc, lambda r: "max_per_ip reached" in r.get("message", ""),
                               what="a refusal logged")
        wait_for(lambda: flood.closed() == 200, timeout=30, what="200 refused connections closed")
        status, _, body = curl(port, "/wp-login.php", source="127.0.0.2")
        assert status == 200 and "loginform" in body
        assert rss_kb(proc.pid) < memory_bound_kb(proc.pid, 64)
    finally:
        flood.close()
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err


def test_service_test_against_a_daemon(hc, alerts_file):
    # On 127.0.0.1, not 0.0.0.0: the flood tests' closing client sockets
    # (bound to 127.0.1.x) may still hold the port free_port() returns.
    port = free_port()
    r = hc.run("service", "run", "http", f"port={port}", "address=127.0.0.1", "-d", "-i", "json_file", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        r = hc.run("service", "test", "http", timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.splitlines() == ["http.request alert tested successfully"]
        [request] = wait_for(lambda: events(alerts_file, "http.request"), what="the test's request")
        assert (request["path"], request["user_agent"]) == ("/wp-login.php", "honeycomb-test")
    finally:
        hc.run("service", "stop", "http", timeout=30)
