"""``python -m dashboard webhooks ...`` as a real subprocess: add (secret printed once), list, test, deliveries,
redeliver, deliver, rotate-secret, remove; a refused URL is one line with exit code 2; every action audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.context import build_context
from dashboard.repository import list_audit_events
from dashboard.security.crypto import generate_key_entry
from dashboard.settings import load_settings
from tests.utils.cli import cli_env, run_cli
from tests.utils.webhook_receiver import Receiver, webhook_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def test_webhooks_cli_round_trip(tmp_path: Path, receiver: Receiver) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    key = generate_key_entry("cli")
    env = cli_env(DASHBOARD_DATABASE_URL=db, DASHBOARD_ENCRYPTION_KEYS=key, DASHBOARD_DATA_DIR=str(tmp_path / "d"),
                  DASHBOARD_WEBHOOK_ALLOW_PRIVATE="true")

    def cli(*args: str, expect: int = 0, **extra: str) -> str:
        proc = run_cli("--actor", "ops@example.com", "webhooks", *args, env={**env, **extra}, cwd=tmp_path)
        assert proc.returncode == expect, (proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        return proc.stdout

    out = cli("add", "--url", receiver.url, "--event", "webhook.test", "connection.created", "--description", "ci")
    first_line, secret = out.strip().splitlines()
    assert first_line.startswith("endpoint 1: http://127.0.0.1:") and secret.startswith("whsec_")
    listed = json.loads(cli("list", "--json"))
    assert [(e["id"], e["event_types"]) for e in listed] == [(1, ["webhook.test", "connection.created"])]
    assert secret not in json.dumps(listed)
    assert cli("test", "1").startswith("delivery 1: succeeded, HTTP 200")
    (payload,) = receiver.verified(secret)
    assert payload["type"] == "webhook.test" and payload["data"]["endpoint_id"] == 1
    rows = json.loads(cli("deliveries", "--endpoint", "1", "--status", "succeeded", "--json"))
    assert [(r["id"], r["status"], r["attempts"], r["last_status_code"]) for r in rows] == [(1, "succeeded", 1, 200)]
    assert cli("redeliver", "1") == "delivery 1 queued again\n"
    assert json.loads(cli("deliver")) == {"succeeded": 1, "retrying": 0, "failed": 0, "lost": 0}
    hostile = cli("add", "--url", receiver.url, "--description", "ops\tfake-column\nfake line \x1b[31m\u202e")
    assert hostile.splitlines()[0].startswith("endpoint 2:")
    (line,) = [row for row in cli("list").splitlines() if row.startswith("2\t")]  # one line, four columns
    assert line.split("\t")[1:] == [receiver.url, "all events", "ops\\tfake-column\\nfake line \\x1b[31m\\u202e"]
    assert cli("remove", "2") == "endpoint 2 removed\n"
    rotated = cli("rotate-secret", "1").strip()
    assert rotated.startswith("whsec_") and rotated != secret
    assert cli("remove", "1") == "endpoint 1 removed\n"
    assert cli("list") == ""
    refused = run_cli("webhooks", "add", "--url", receiver.url, env={**env, "DASHBOARD_WEBHOOK_ALLOW_PRIVATE": "false"},
                      cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.startswith("error: the webhook URL must use https://")
    assert cli("redeliver", "99", expect=1).strip() == ""

    ctx = build_context(load_settings({}, secrets_path=None, dashboard_database_url=db, dashboard_encryption_keys=key,
                                      dashboard_data_dir=tmp_path / "d"), start_sandbox=False)
    try:
        with ctx.session() as s:
            actions = [e.action for e in list_audit_events(session=s) if e.action.startswith("webhooks.")]
    finally:
        ctx.close()
    assert sorted(set(actions)) == ["webhooks.add", "webhooks.redeliver", "webhooks.remove", "webhooks.rotate_secret",
                                    "webhooks.test"]
