"""Each client helper for honeypot authors (clients/), for real, through a
running `honeycomb node` into our core: PHP from Debian's php-cli, the
Python module, the C++ header and the README's bash one-liner. The event
must be queryable from the core's REST API with its pot id, pot type and
fields, as the honeypot sent them."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_for
from core_peer import Core
from node_proc import Node, all_events, stored_total

SOURCE_DIR = Path(os.environ.get("HONEYCOMB_SOURCE_DIR", Path(__file__).resolve().parents[2]))
CLIENTS = SOURCE_DIR / "clients"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("stack")
    core = Core(base / "core-home").start()
    node = Node(base / "node-home", core.node_port).start()
    yield core, node
    node.kill()
    core.kill()


def client_env(node, pot_id, pot_type):
    return dict(os.environ, HONEYBEE_EVENT_PORT=str(node.event_port), HONEYBEE_POT_ID=pot_id,
                HONEYBEE_HONEYPOT_TYPE=pot_type)


def stored_event(core, pot_id):
    wait_for(lambda: stored_total(core, f"pot={pot_id}") >= 1, 30, what=f"an event from {pot_id}")
    [event] = all_events(core, f"pot={pot_id}")
    return event


def test_php_forwarder(stack):
    core, node = stack
    script = f"""<?php
require '{CLIENTS / "php" / "honeybee.php"}';
exit(honeybee_send_event('login.failed', ['username' => 'admin', 'password' => "p\\xffss", 'src_ip' => '203.0.113.5']) ? 0 : 1);
"""
    # Debian's php-cli with its default settings (variables_order without E:
    # $_ENV is empty, so the forwarder must use getenv()).
    r = subprocess.run(["php"], input=script, env=client_env(node, "php-pot", "honnypotter"),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stdout + r.stderr
    event = stored_event(core, "php-pot")
    assert event["pot_type"] == "honnypotter"
    assert event["event_type"] == "login.failed"
    assert event["username"] == "admin" and event["src_ip"] == "203.0.113.5"
    assert event["password"] == "p\ufffdss", "invalid UTF-8 replaced, the event kept"


def test_python_module(stack):
    core, node = stack
    code = ("import honeybee_client, sys; "
            "sys.exit(0 if honeybee_client.send_event('command', {'input': 'uname -a'}, src_ip='198.51.100.9', "
            "username=b'r\\xffoot') else 1)")
    r = subprocess.run([sys.executable, "-c", code], env=dict(client_env(node, "py-pot", "custom"),
                                                              PYTHONPATH=str(CLIENTS / "python")),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    event = stored_event(core, "py-pot")
    assert event["pot_type"] == "custom" and event["event_type"] == "command"
    assert event["command"] == "uname -a" and event["src_ip"] == "198.51.100.9"
    assert event["username"] == "b'r\\xffoot'", "bytes that are not UTF-8 arrive as their repr, like Cowrie's"


def test_cpp_header(stack, tmp_path):
    core, node = stack
    src = tmp_path / "send.cpp"
    src.write_text(f"""#include "{CLIENTS / "cpp" / "honeybee_client.hpp"}"
int main() {{
  return honeybee::send_event("session.closed", {{{{"session", "a1b2"}}, {{"dst_port", 2222}},
                                                  {{"message", "bye \\"quoted\\"\\n"}}}}) ? 0 : 1;
}}
""")
    exe = tmp_path / "send"
    subprocess.run(["g++", "-std=c++17", "-O1", "-o", str(exe), str(src)], check=True, timeout=120)
    r = subprocess.run([str(exe)], env=client_env(node, "cpp-pot", "custom"), capture_output=True, timeout=60)
    assert r.returncode == 0
    event = stored_event(core, "cpp-pot")
    assert event["session"] == "a1b2" and event["dst_port"] == 2222
    assert event["message"] == 'bye "quoted"\n'


def test_bash_one_liner_from_the_readme(stack):
    core, node = stack
    readme = (CLIENTS / "README.md").read_text()
    [line] = [l for l in readme.splitlines() if "/dev/tcp/127.0.0.1/" in l and l.startswith("{ printf")]
    r = subprocess.run(["bash", "-c", line], env=client_env(node, "sh-pot", "script"), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0
    event = stored_event(core, "sh-pot")
    assert event["pot_type"] == "script" and event["event_type"] == "script.ran"
    assert event["raw"]["data"]["message"] == "backup finished"
