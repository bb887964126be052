"""TLS on all three core ports from one certificate in the config: nodes
(Protocol v2 over TLS), the REST API (https) and the WebSocket (wss); a
plain-text client gets nothing from a TLS port."""
import json
import socket
import ssl
import subprocess
import urllib.request

import pytest

from core_peer import Core, envelope


@pytest.fixture
def tls_core(tmp_path):
    cert, key = tmp_path / "core.crt", tmp_path / "core.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    core = Core(tmp_path / "home", config=f"tls:\n  cert_file: {cert}\n  key_file: {key}\n")
    core.start()
    ctx = ssl.create_default_context(cafile=str(cert))
    yield core, ctx
    core.kill()


def test_nodes_api_and_websocket_over_tls(tls_core):
    core, ctx = tls_core
    # Protocol v2 over TLS.
    raw = socket.create_connection(("127.0.0.1", core.node_port), timeout=10)
    node = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    assert node.version() in ("TLSv1.2", "TLSv1.3")
    node.sendall(envelope({"NodeRegistration": {"node_id": 5, "node_name": "tls", "address": "a", "port": 1,
                                                "node_type": "Full"}}))
    line = b""
    while not line.endswith(b"\n"):
        line += node.recv(4096)
    assert json.loads(line)["message"]["RegistrationAck"]["accepted"] is True
    # The API over https, with the token.
    req = urllib.request.Request(f"https://127.0.0.1:{core.api_port}/api/v1/nodes",
                                 headers={"Authorization": f"Bearer {core.token}"})
    nodes = json.loads(urllib.request.urlopen(req, context=ctx, timeout=10).read())["nodes"]
    assert [n["node_id"] for n in nodes] == [5]
    # The WebSocket port completes a TLS handshake with the same certificate.
    ws = ctx.wrap_socket(socket.create_connection(("127.0.0.1", core.ws_port), timeout=10),
                         server_hostname="127.0.0.1")
    ws.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               f"Authorization: Bearer {core.token}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += ws.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    ws.close()
    node.close()


def test_plain_text_client_gets_nothing_from_tls_ports(tls_core):
    core, ctx = tls_core
    s = socket.create_connection(("127.0.0.1", core.node_port), timeout=10)
    s.sendall(envelope({"NodeRegistration": {"node_id": 6, "node_name": "plain", "address": "a", "port": 1,
                                             "node_type": "Full"}}))
    s.settimeout(10)
    try:
        data = s.recv(4096)
    except (ConnectionResetError, socket.timeout):
        data = b""
    assert b"RegistrationAck" not in data
    with pytest.raises(Exception):
        urllib.request.urlopen(f"http://127.0.0.1:{core.api_port}/health", timeout=10).read()
    req = urllib.request.Request(f"https://127.0.0.1:{core.api_port}/api/v1/nodes",
                                 headers={"Authorization": f"Bearer {core.token}"})
    assert json.loads(urllib.request.urlopen(req, context=ctx, timeout=10).read())["nodes"] == []
