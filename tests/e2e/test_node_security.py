"""Node authentication on the Protocol v2 port (docs/SECURITY.md): with the
default `node_auth: certificate` a node enrolls once with a one-time join
token, then speaks TLS 1.3 with a client certificate from the core's own CA,
bound to its node id. Each way in that must be refused is tried here, and
each refusal must carry its reason in the core's log, the node's log and the
audit log. TOTP (spec §2) is tried on an open core with raw peers."""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import stat
import struct
import time

import pytest

from conftest import wait_for
from core_peer import Core, Peer
from node_proc import Node


def join_token(core, name="test-node", *extra):
    r = core.cli("token", "create", "--node", name, *extra)
    assert r.returncode == 0, r.stderr
    tokens = re.findall(r"^(hcj1\.\S+)$", r.stdout, re.M)
    assert len(tokens) == 1, r.stdout
    return tokens[0]


def audit(core):
    r = core.cli("audit", "--limit", "200")
    assert r.returncode == 0, r.stderr
    return r.stdout


def node_log(node):
    path = node.home / "node.debug.log"
    return path.read_text(errors="replace") if path.exists() else ""


def core_log(core):
    path = core.home / "core.debug.log"
    return path.read_text(errors="replace") if path.exists() else ""


def registered_nodes(core):
    return [n for n in core.get_json("/api/v1/nodes")["nodes"] if n.get("connected")]


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path / "core-home", node_auth=None).start()  # the default: certificates
    yield c
    c.kill()


def enrolled_node(tmp_path, core, name="test-node", config=""):
    token = join_token(core, name)
    node = Node(tmp_path / f"node-{name}", core.node_port, config=config + f"join_token: {token}\n").start()
    try:
        wait_for(lambda: node.stats().get("core", {}).get("connected"), 30, what="the node registered")
    except BaseException:
        node.kill()
        raise
    return node, token


def test_an_enrolled_node_delivers_over_mutual_tls_and_keeps_its_certificate(tmp_path, core):
    node, _ = enrolled_node(tmp_path, core)
    try:
        tls = node.data_dir / "tls"
        assert stat.S_IMODE(os.stat(tls).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(tls / "node.key").st_mode) == 0o600
        node.send_each(['{"pot_id":"p1","event_type":"login","username":"tls-user"}'])
        wait_for(lambda: [e for e in core.events() if e.get("username") == "tls-user"], 20, what="the event stored")
        [row] = [l for l in core.cli("node", "certs").stdout.splitlines() if str(node.node_id) in l and "valid" in l]
        assert "test-node" in row and "valid" in row
        assert "node.enroll" in audit(core)
        # The node port speaks TLS 1.3 only: a plain-TCP registration gets nothing.
        peer = Peer(core.node_port)
        peer.send({"NodeRegistration": {"node_id": 5, "node_name": "plain", "address": "x",
                                                            "port": 1, "node_type": "Full"}})
        assert peer.closed_by_peer(15)
        peer.close()
        with pytest.raises(ssl.SSLError):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            with socket.create_connection(("127.0.0.1", core.node_port), timeout=10) as raw:
                ctx.wrap_socket(raw).close()
        # A restart needs no token: the certificate is kept (the token is spent).
        node.stop()
        node.config_file.write_text("")
        node.start()
        wait_for(lambda: node.stats().get("core", {}).get("connected"), 30, what="the node registered again")
    finally:
        node.kill()


def test_a_node_without_a_certificate_is_refused_with_the_reason(tmp_path, core):
    node = Node(tmp_path / "bare", core.node_port).start()
    try:
        wait_for(lambda: "requires TLS with a node certificate" in node_log(node), 30, what="the node told why")
        assert "requires TLS with a node certificate" in core_log(core)
        assert core.metric("honeycomb_node_registrations_refused_total") >= 1
        assert registered_nodes(core) == []
        assert "node.register" in audit(core)
    finally:
        node.kill()


def test_a_join_token_works_once(tmp_path, core):
    first, token = enrolled_node(tmp_path, core, "sensor-a")
    try:
        thief = Node(tmp_path / "thief", core.node_port, config=f"join_token: {token}\n").start()
        try:
            wait_for(lambda: "join token already used" in node_log(thief), 30, what="the replay refused")
            assert not (thief.data_dir / "tls" / "node.crt").exists()
            assert "join token already used" in audit(core)
            assert [int(n["node_id"]) for n in registered_nodes(core)] == [first.node_id]
        finally:
            thief.kill()
    finally:
        first.kill()


def test_an_expired_or_unknown_join_token_is_refused(tmp_path, core):
    token = join_token(core, "late")
    secret, pin = token.split(".")[1], token.split(".")[2]
    forged = "hcj1." + ("A" * 43) + "." + pin  # right core, made-up secret
    node = Node(tmp_path / "forged", core.node_port, config=f"join_token: {forged}\n").start()
    try:
        wait_for(lambda: "unknown join token" in node_log(node), 30, what="the forged token refused")
    finally:
        node.kill()
    assert secret != "A" * 43


def test_a_join_token_for_another_core_sends_nothing(tmp_path, core):
    other = Core(tmp_path / "other-core", node_auth=None).start()
    try:
        token = join_token(other, "misdirected")
        node = Node(tmp_path / "misdirected", core.node_port, config=f"join_token: {token}\n").start()
        try:
            wait_for(lambda: "is not the one the join token is for" in node_log(node), 30,
                     what="the node refusing the wrong core")
            # The secret never reached the wrong core: it is still unused on the right one.
            assert "unused" in other.cli("node", "certs").stdout
            assert "node.enroll" not in audit(core)
        finally:
            node.kill()
    finally:
        other.kill()


def test_a_certificate_from_another_core_fails_the_handshake(tmp_path, core):
    other = Core(tmp_path / "other-core", node_auth=None).start()
    try:
        node, _ = enrolled_node(tmp_path, other, "elsewhere")
        node.stop()
        tls = node.data_dir / "tls"
        # Our node checks the core first: this core's certificate is not
        # from the CA it enrolled with, so it goes no further.
        node.core_port = core.node_port
        node.config_file.write_text("")
        node.start()
        try:
            wait_for(lambda: "TLS handshake with the core" in node_log(node) and "certificate verify failed"
                     in node_log(node), 30, what="the node refusing the wrong core")
        finally:
            node.kill()
        # A client that does not check the core, presenting that foreign
        # certificate: the core refuses the handshake, with the reason.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(tls / "node.crt", tls / "node.key")
        with socket.create_connection(("127.0.0.1", core.node_port), timeout=10) as raw:
            with pytest.raises((ssl.SSLError, ConnectionError, socket.timeout)):
                with ctx.wrap_socket(raw) as s:
                    s.sendall(b'{"version":2,"message":{"NodeRegistration":{"node_id":1,"node_name":"x",'
                              b'"address":"x","port":1,"node_type":"Full"}}}\n')
                    s.settimeout(10)
                    if not s.recv(1):
                        raise ConnectionError("closed")
        wait_for(lambda: "certificate verify failed" in core_log(core), 15, what="the core's reason")
        assert registered_nodes(core) == []
    finally:
        other.kill()


def test_a_revoked_node_is_cut_off_at_once_and_refused(tmp_path, core):
    node, _ = enrolled_node(tmp_path, core, "doomed")
    try:
        assert len(registered_nodes(core)) == 1
        r = core.cli("node", "revoke", "doomed")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: registered_nodes(core) == [], 10, what="the revoked node's connection closed")
        wait_for(lambda: "is revoked" in node_log(node), 30, what="the node told it is revoked")
        assert "revoked" in core_log(core)
        assert "node.revoke" in audit(core)
        assert "revoked" in [l for l in core.cli("node", "certs").stdout.splitlines() if "doomed" in l][0]
        # Revoking again finds nothing valid: an error, not a silent success.
        assert core.cli("node", "revoke", "doomed").returncode != 0
    finally:
        node.kill()


def test_a_node_cannot_speak_for_another_node_id(tmp_path, core):
    node, _ = enrolled_node(tmp_path, core, "honest")
    honest_id = node.node_id
    node.stop()
    (node.data_dir / "node_id").write_text("4242424242\n")  # claims someone else's id with its own certificate
    node.start()
    try:
        wait_for(lambda: f"the certificate is node {honest_id}'s, the registration claims node 4242424242"
                 in node_log(node), 30, what="the id mismatch refused")
        assert "registration claims node 4242424242" in core_log(core)
        assert all(str(n["node_id"]) != "4242424242" for n in core.get_json("/api/v1/nodes")["nodes"])
    finally:
        node.kill()


def test_a_node_renews_its_certificate_before_it_expires(tmp_path):
    # A node renews once two thirds of its certificate's life are over. The
    # certificates are backdated 5 minutes (clock skew), so a 60 s one is
    # renewed on the node's first connection.
    core = Core(tmp_path / "core-home", config="node_cert_seconds: 60\n", node_auth=None).start()
    try:
        node, _ = enrolled_node(tmp_path, core, "renewer")
        try:
            wait_for(lambda: "certificate renewed" in node_log(node), 30, what="the renewal")
            enrolled = re.search(r"enrolled with the core \S+: certificate ([0-9a-f]+)", node_log(node)).group(1)
            renewed = re.search(r"certificate renewed \(([0-9a-f]+)\)", node_log(node)).group(1)
            assert enrolled != renewed
            assert "node.renew" in audit(core)
            rows = [l for l in core.cli("node", "certs").stdout.splitlines() if "renewer" in l and "valid" in l]
            assert len(rows) == 2 and any(renewed in r for r in rows), rows
            # The renewed certificate is the one a new connection uses.
            node.stop()
            node.config_file.write_text("")
            node.start()
            wait_for(lambda: node.stats().get("core", {}).get("connected"), 30, what="registered with the new one")
        finally:
            node.kill()
    finally:
        core.kill()


# ---- TOTP (spec §2), on an open core, with raw peers ----

def totp(key_b32, t=None, step=30):
    key = base64.b32decode(key_b32 + "=" * (-len(key_b32) % 8), casefold=True)
    counter = int((t if t is not None else time.time()) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def register(core, node_id, code=None):
    peer = Peer(core.node_port)
    body = {"node_id": node_id, "node_name": "totp-node", "address": "127.0.0.1", "port": 9100, "node_type": "Full"}
    if code is not None:
        body["totp_code"] = code
    peer.send({"NodeRegistration": body})
    ack = peer.recv()["message"]["RegistrationAck"]
    return peer, ack


def test_totp_second_factor(tmp_path):
    core = Core(tmp_path / "core-home", config="node_totp: true\n").start()  # node_auth: open
    try:
        peer, ack = register(core, 777)
        assert ack["accepted"] and len(ack["totp_key"]) == 32, ack
        key = ack["totp_key"]
        peer.close()
        wait_for(lambda: registered_nodes(core) == [], 10, what="the first connection gone")
        for code, reason in ((None, "TOTP code is required"), ("000000" if totp(key) != "000000" else "111111",
                                                                "wrong TOTP code")):
            peer, ack = register(core, 777, code)
            assert not ack["accepted"] and reason in ack["message"], ack
            assert "totp_key" not in ack or ack["totp_key"] is None
            assert peer.closed_by_peer(15)
            peer.close()
        # The right code works once; replayed, it is refused.
        code = totp(key)
        peer, ack = register(core, 777, code)
        assert ack["accepted"] and not ack.get("totp_key"), ack
        peer.close()
        peer, ack = register(core, 777, code)
        assert not ack["accepted"] and "wrong TOTP code" in ack["message"], ack
        peer.close()
        assert "wrong TOTP code" in core_log(core)
        assert core.metric("honeycomb_node_registrations_refused_total") >= 3
    finally:
        core.kill()


def test_our_node_keeps_the_totp_secret_and_uses_it(tmp_path):
    core = Core(tmp_path / "core-home", config="node_totp: true\n").start()
    try:
        node = Node(tmp_path / "node-home", core.node_port).start()
        try:
            key_file = node.data_dir / "tls" / "totp_key"
            wait_for(key_file.exists, 30, what="the TOTP secret kept")
            assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
            node.stop()
            node.start()
            wait_for(lambda: node.stats().get("core", {}).get("connected"), 30, what="registered with a code")
            assert "wrong TOTP code" not in core_log(core)
        finally:
            node.kill()
    finally:
        core.kill()
