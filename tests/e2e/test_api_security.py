"""The API's access control (docs/API.md "Authentication", docs/SECURITY.md):
scoped tokens (read, manage, admin), every command and token change in the
audit log the API lists, failed logins limited per address, no token in a
URL."""
import json
import re

import pytest

from conftest import wait_for
from core_peer import Core


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path / "core-home").start()
    yield c
    c.kill()


def cli_token(core, name, scope):
    r = core.cli("token", "create", name, "--scope", scope)
    assert r.returncode == 0, r.stderr
    [token] = re.findall(r"^(hc_\S+)$", r.stdout, re.M)
    return token


def audit(core, query=""):
    return core.get_json("/api/v1/audit" + query)["records"]


def test_each_scope_allows_its_requests_only(core):
    read = cli_token(core, "grafana", "read")
    manage = cli_token(core, "ops", "manage")
    command = {"command": "GetInstalledPots"}
    # read: everything GET, no command, no tokens, no audit.
    for path in ("/api/v1/nodes", "/api/v1/events", "/api/v1/stats", "/metrics"):
        assert core.request("GET", path, token=read)[0] == 200, path
    status, body, _ = core.request("POST", "/api/v1/nodes/5/commands", command, token=read)
    assert status == 403 and "scope is read; this needs manage" in json.loads(body)["error"], body
    for path in ("/api/v1/tokens", "/api/v1/audit"):
        assert core.request("GET", path, token=read)[0] == 403, path
    # manage: commands reach the router (node 5 is unknown: 404, not 403); still no tokens.
    assert core.request("POST", "/api/v1/nodes/5/commands", command, token=manage)[0] == 404
    assert core.request("GET", "/api/v1/tokens", token=manage)[0] == 403
    assert core.request("POST", "/api/v1/tokens", {"name": "x"}, token=manage)[0] == 403
    # admin (the initial token) sees the tokens with their scopes, never the secrets.
    tokens = {t["name"]: t for t in core.get_json("/api/v1/tokens")["tokens"]}
    assert tokens["initial"]["scope"] == "admin" and tokens["grafana"]["scope"] == "read"
    assert tokens["ops"]["scope"] == "manage"
    assert read not in json.dumps(tokens) and manage not in json.dumps(tokens)
    records = audit(core)
    refused = [r for r in records if r["action"] == "api.refused"]
    assert any(r["actor"] == "api:grafana" and "manage" in r["outcome"] for r in refused), refused
    assert any(r["action"] == "node.command" and r["actor"] == "api:ops" and r["outcome"] == "unknown_node"
               for r in records), records
    assert any(r["action"] == "api_token.create" and r["actor"] == "cli" and "grafana (read)" in r["target"]
               for r in records), records


def test_tokens_made_and_revoked_through_the_api_are_audited(core):
    status, body, _ = core.request("POST", "/api/v1/tokens", {"name": "bot", "scope": "manage"})
    assert status == 201, body
    made = json.loads(body)
    assert made["scope"] == "manage" and made["token"].startswith("hc_")
    assert core.request("GET", "/api/v1/nodes", token=made["token"])[0] == 200
    assert core.request("POST", "/api/v1/tokens", {"name": "bad", "scope": "root"})[0] == 400
    assert core.request("POST", "/api/v1/tokens", {"scope": "read"})[0] == 400
    status, body, _ = core.request("DELETE", "/api/v1/tokens/bot")
    assert status == 200, body
    # Revoked through the API: refused from the next request on.
    assert core.request("GET", "/api/v1/nodes", token=made["token"])[0] == 401
    assert core.request("DELETE", "/api/v1/tokens/bot")[0] == 404
    actions = [(r["actor"], r["action"], r["target"], r["outcome"]) for r in audit(core)]
    assert ("api:initial", "api_token.create", "bot (manage)", "ok") in actions, actions
    assert ("api:initial", "api_token.revoke", "bot", "ok") in actions, actions
    # Paging: newest first, `before` continues.
    first = core.get_json("/api/v1/audit?limit=1")
    assert len(first["records"]) == 1 and first["next_before"] == first["records"][0]["id"]
    rest = core.get_json(f"/api/v1/audit?before={first['next_before']}")["records"]
    assert rest and all(r["id"] < first["next_before"] for r in rest)
    assert core.request("GET", "/api/v1/audit?limit=0")[0] == 400


def test_no_token_in_a_url(core):
    # Tokens end up in proxy and server logs when they ride in URLs: the
    # API takes them from the Authorization header only.
    for query in (f"?access_token={core.token}", f"?token={core.token}"):
        assert core.request("GET", "/api/v1/nodes" + query, token=None)[0] == 401


def test_failed_logins_block_the_address_for_a_while(core):
    for i in range(10):
        assert core.request("GET", "/api/v1/nodes", token=f"hc_wrong{i}")[0] == 401
    status, body, headers = core.request("GET", "/api/v1/nodes", token="hc_wrong-again")
    assert status == 429 and "failed logins" in json.loads(body)["error"], body
    assert 1 <= int(headers["Retry-After"]) <= 60
    # Blocked whatever it presents now, the right token too: guessing gains nothing.
    assert core.request("GET", "/api/v1/nodes")[0] == 429
    assert "failed logins" in core.output() or wait_for(
        lambda: "failed logins" in (core.home / "core.debug.log").read_text(), 10, what="the log line")
