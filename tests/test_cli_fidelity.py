"""Issue 13 from the command line: a mismatched redirect URI, pending installs, ``uninstall --hub-id``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dashboard.sandbox import SANDBOX_CLIENT_SECRET
from tests.utils.cli import SandboxCli
from tests.utils.lifecycle import control, grant, sandbox_tokens, stats


@pytest.fixture
def cli(tmp_path: Path, sandbox: Any) -> SandboxCli:
    return SandboxCli(tmp_path, sandbox.url)


def _no_secret_printed(cli: Any, sandbox: Any) -> None:
    printed = "\n".join(cli.outputs)
    secrets = [t["token"] for t in sandbox_tokens(sandbox.url)] + [SANDBOX_CLIENT_SECRET]
    assert not [s for s in secrets if s in printed]


def test_install_finish_with_a_mismatched_redirect_uri_names_the_redirect_uri(cli: Any, sandbox: Any) -> None:
    url = cli("install", "start", "--scope", "oauth").stdout.strip().splitlines()[-1]
    callback = grant(sandbox.url, url)
    other = "http://localhost:9000/install"
    proc = cli("install", "finish", callback, expect=1, HUBSPOT_REDIRECT_URI=other)
    line = proc.stderr.strip()
    assert line.count("\n") == 0
    assert other in line and "http://localhost:8501/install" in line and "redirect URI" in line
    assert "expired or already used" not in line


def test_pending_install_then_resume(cli: Any, sandbox: Any) -> None:
    control(sandbox.url, "faults", {"target": "metadata", "error_rate": 1, "error_status": 503, "count": 3})
    url = cli("install", "start", "--scope", "oauth", "--account-id", "1000002",
              HUBSPOT_OAUTH_API="v1").stdout.strip().splitlines()[-1]
    failed = cli("install", "finish", grant(sandbox.url, url), expect=1, HUBSPOT_OAUTH_API="v1")
    assert "pending install #1" in failed.stderr and "install resume 1" in failed.stderr
    listed = cli("install", "pending").stdout
    assert listed.startswith("1\t") and "by ops@example.com" in listed
    assert cli("install", "resume", "1", HUBSPOT_OAUTH_API="v1").stdout.strip() == "1000002"
    assert cli("install", "pending").stdout == ""
    rows = json.loads(cli("connections", "--json").stdout)
    assert [(r["hub_id"], r["granted_scopes"]) for r in rows] == [(1000002, ["oauth"])]
    cli("install", "resume", "1", expect=1)  # finished: gone
    _no_secret_printed(cli, sandbox)


def test_uninstall_from_the_account(cli: Any, sandbox: Any) -> None:
    url = cli("install", "start", "--scope", "oauth", "--account-id", "1000003").stdout.strip().splitlines()[-1]
    hub = cli("install", "finish", grant(sandbox.url, url)).stdout.strip()
    assert cli("uninstall", "--hub-id", hub).stdout.strip() == f"{hub}: uninstalled from the HubSpot account"
    assert stats(sandbox.url)["app_uninstalls"] == 1
    assert not [t for t in sandbox_tokens(sandbox.url, int(hub)) if t["active"]]
    assert json.loads(cli("connections", "--json").stdout) == []
    shown = json.loads(cli("connections", "--json", "--status", "uninstalled").stdout)
    assert [(r["hub_id"], r["status"]) for r in shown] == [(int(hub), "uninstalled")]
    events = json.loads(cli("audit", "--json", "--hub-id", hub).stdout)
    assert (events[0]["action"], events[0]["outcome"], events[0]["actor"]) == ("uninstall", "success",
                                                                               "ops@example.com")
    again = cli("uninstall", "--hub-id", hub, expect=2)
    assert "already uninstalled" in again.stderr
    _no_secret_printed(cli, sandbox)
