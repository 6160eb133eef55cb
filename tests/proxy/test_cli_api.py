"""``python -m dashboard api --hub-id N GET /crm/v3/objects/contacts?limit=1`` against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.utils.cli import SandboxCli
from tests.utils.lifecycle import grant

pytestmark = pytest.mark.slow


def test_cli_api_prints_hubspots_json_and_refuses_bad_paths(tmp_path: Path, sandbox: Any) -> None:
    cli = SandboxCli(tmp_path, sandbox.url)
    url = cli("install", "start", "--scope", "oauth", "crm.objects.contacts.read",
              "--account-id", "1000001").stdout.strip().splitlines()[-1]
    hub_id = int(cli("install", "finish", "-", stdin=grant(sandbox.url, url) + "\n").stdout.strip())
    out = cli("api", "--hub-id", str(hub_id), "GET", "/crm/v3/objects/contacts?limit=1")
    body = json.loads(out.stdout)
    assert len(body["results"]) == 1 and body["paging"]["next"]["after"] == "1"
    assert "HTTP 200" in out.stderr
    bad = cli("api", "--hub-id", str(hub_id), "GET", "/crm/%2e%2e/oauth/v1/token", expect=2)
    assert "refused" in bad.stderr
    audit = cli("audit", "--json").stdout
    assert "cli: GET /crm/v3/objects/contacts -> 200" in audit and "limit=1" not in audit
