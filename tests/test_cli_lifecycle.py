"""The CLI drives the whole lifecycle through the same services, as a script or cron job would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dashboard.hubspot.authorize import parse_authorize_url
from dashboard.sandbox import SANDBOX_CLIENT_SECRET
from tests.utils.cli import SandboxCli
from tests.utils.lifecycle import control, grant, sandbox_tokens, stats


@pytest.fixture
def cli(tmp_path: Path, sandbox: Any) -> SandboxCli:
    return SandboxCli(tmp_path, sandbox.url)


def test_cli_install_refresh_test_audit_revoke(cli: Any, sandbox: Any) -> None:
    start = cli("install", "start", "--scope", "oauth", "crm.objects.contacts.read",
                "--optional-scope", "automation", "--account-id", "1000001")
    url = start.stdout.strip().splitlines()[-1]
    req = parse_authorize_url(url)
    assert req.scopes == ("crm.objects.contacts.read", "oauth") and req.optional_scopes == ("automation",)
    assert req.account_id == 1000001 and req.state
    callback = grant(sandbox.url, url)
    # "-": the callback URL (code and state) comes from standard input, never from the process list.
    hub_id = int(cli("install", "finish", "-", stdin=callback + "\n").stdout.strip())
    assert hub_id == 1000001

    rows = json.loads(cli("connections", "--json").stdout)
    assert [r["hub_id"] for r in rows] == [hub_id]
    row = rows[0]
    assert {"hub_id", "hub_domain", "status", "expires_at", "granted_scopes", "missing_optional_scopes",
            "last_refresh_at", "last_error"} <= set(row)
    assert row["status"] == "healthy" and row["expires_at"].endswith("+00:00")
    assert row["missing_optional_scopes"] == ["automation"]  # free tier: the optional scope was dropped

    assert "refreshed" in cli("refresh", "--hub-id", str(hub_id), "--force").stdout
    assert "healthy" in cli("test", "--hub-id", str(hub_id)).stdout
    events = json.loads(cli("audit", "--json", "--hub-id", str(hub_id)).stdout)
    assert {e["action"] for e in events} >= {"install", "refresh", "test"}
    assert all(e["actor"] == "ops@example.com" for e in events)
    cli("revoke", "--hub-id", str(hub_id))
    assert json.loads(cli("connections", "--json").stdout)[0]["status"] == "revoked"
    row = cli("connections").stdout.splitlines()[0].split("\t")
    assert row[2:4] == ["revoked", "reinstall to reconnect"]  # no "expires ..." for a token nobody will use
    assert stats(sandbox.url)["revoke"] == 1
    cli("-v", "audit", "--hub-id", str(hub_id))  # DEBUG logging on stderr
    printed = "\n".join(cli.outputs)
    secrets = [t["token"] for t in sandbox_tokens(sandbox.url)] + [SANDBOX_CLIENT_SECRET]
    assert len(secrets) > 3
    assert not [s for s in secrets if s in printed]


def test_cli_failures_exit_1_with_one_line(cli: Any, sandbox: Any) -> None:
    proc = cli("refresh", "--hub-id", "424242", expect=1)
    assert proc.stderr.strip().count("\n") == 0 and "424242" in proc.stderr
    proc = cli("install", "finish", "http://localhost:8501/install?code=abc&state=forged", expect=1)
    assert "unknown" in proc.stderr
    assert stats(sandbox.url)["token_requests"]["authorization_code"] == 0
    control(sandbox.url, "faults", {"target": "token", "error_rate": 1.0, "error_status": 500})
    start = cli("install", "start", "--scope", "oauth")
    callback = grant(sandbox.url, start.stdout.strip().splitlines()[-1])
    proc = cli("install", "finish", callback, expect=1)
    assert "HTTP 500" in proc.stderr


def test_cli_bad_usage_exits_2(cli: Any) -> None:
    assert "--hub-id" in cli("revoke", expect=2).stderr
    assert "not a scope name" in cli("scopes", "url", "--scope", "bad\u0001", expect=2).stderr
    cli("refresh", expect=2)


def test_cli_scopes_url_is_exactly_encoded(cli: Any) -> None:
    out = cli("scopes", "url", "--scope", "oauth", "crm.objects.contacts.read", "--optional-scope",
              "automation", "--state", "a b&c").stdout.strip()
    assert "scope=crm.objects.contacts.read%20oauth" in out and "+" not in out
    assert out.endswith("state=a%20b%26c")


def test_cli_links_create_list_revoke(cli: Any, sandbox: Any) -> None:
    created = cli("links", "create", "--scope", "oauth", "crm.objects.contacts.read", "--account-id", "1000001",
                  "--days", "3").stdout.strip().splitlines()
    url = created[-1]
    assert "/connect/" in url and created[0].startswith("link 1: works once, until ")
    [row] = json.loads(cli("links", "list", "--json").stdout)
    assert row["status"] == "open" and row["account_id"] == 1000001 and row["created_by"] == "ops@example.com"
    assert url.rsplit("/", 1)[1] not in json.dumps(row)  # the opaque id is shown once, never listed
    assert cli("links", "revoke", "1").stdout.strip() == "link 1 revoked"
    assert "already revoked" in cli("links", "revoke", "1", expect=2).stderr
    assert json.loads(cli("links", "list", "--json").stdout)[0]["status"] == "revoked"
