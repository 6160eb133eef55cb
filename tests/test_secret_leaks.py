"""Secret-leak scan: install → refresh → failing refresh → revoke at DEBUG, in both API versions.

Collects every log record, exception text, CLI output, alert payload and the CSV export, then asserts
that no access token, refresh token, client secret or encryption key occurs anywhere.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest

from dashboard import repository
from dashboard.connections import service as connections
from dashboard.context import build_context
from dashboard.errors import DashboardError
from dashboard.models import utcnow
from dashboard.refresh import service as refresh
from dashboard.security.crypto import generate_key_entry
from tests.utils.lifecycle import ADMIN, FAST_RETRY, control, install_portal, sandbox_tokens


def secrets_of(sandbox_url: str, key_entry: str, client_secret: str) -> list[str]:
    found = [t["token"] for t in sandbox_tokens(sandbox_url)]
    assert found, "the scan needs tokens to look for"
    return [*found, client_secret, key_entry, key_entry.split(":", 1)[1]]


@pytest.mark.parametrize("api", ["2026-03", "v1"])
def test_no_secret_in_logs_errors_alerts_or_exports(settings_factory: Any, sandbox: Any, alert_sink: Any,
                                                    caplog: pytest.LogCaptureFixture, api: str) -> None:
    from dashboard.connections.export import connections_csv
    from dashboard.sandbox import SANDBOX_CLIENT_SECRET

    hook_url, payloads = alert_sink
    key = generate_key_entry("leak")
    ctx = build_context(settings_factory(hubspot_oauth_api=api, dashboard_encryption_keys=key,
                                         dashboard_alert_webhook_url=hook_url,
                                         dashboard_alert_failure_threshold=1,
                                         dashboard_alert_min_interval_seconds=0),
                        sandbox_url=sandbox.url, retry=FAST_RETRY)
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    try:
        hub = install_portal(ctx, sandbox.url).hub_id
        refresh.refresh_portal(ctx, hub, actor=ADMIN, force=True)
        connections.token_metadata(ctx, hub, actor=ADMIN)
        connections.test_connection(ctx, hub, actor=ADMIN)
        control(sandbox.url, "faults", {"target": "token", "error_rate": 1.0, "error_status": 503})
        texts.append(refresh.refresh_portal(ctx, hub, actor=ADMIN, force=True).message)
        control(sandbox.url, "faults", {"target": "token"})
        control(sandbox.url, "uninstall", {"hub_id": hub})
        texts.append(refresh.refresh_portal(ctx, hub, actor=ADMIN, force=True).message)
        for call in (lambda: connections.call_api(ctx, hub, "GET", "/crm/v3/objects/contacts", actor=ADMIN),
                     lambda: connections.revoke(ctx, hub, actor=ADMIN)):
            try:
                call()
            except DashboardError as exc:
                texts.extend([str(exc), repr(exc), str(exc.__cause__ or "")])
        connections.revoke(ctx, hub, actor=ADMIN, local_only=True)
        texts.append(connections_csv(connections.list_connections(ctx, actor=ADMIN)))
        with ctx.session() as s:
            texts.extend(f"{e.action} {e.outcome} {e.detail}" for e in repository.list_audit_events(session=s))
            texts.extend(repr(p) for p in [repository.get_portal(session=s, hub_id=hub)])
        texts.extend([repr(ctx), repr(ctx.app), repr(ctx.cipher), repr(ctx.settings)])
    finally:
        ctx.close()
    texts.extend(r.getMessage() for r in caplog.records)
    texts.extend(p.decode() for p in payloads)
    assert payloads, "alerts were expected (failure threshold 1, then needs_reauth)"
    assert any(json.loads(p)["event"] == "needs_reauth" for p in payloads)
    haystack = "\n".join(texts)
    for secret in secrets_of(sandbox.url, key, SANDBOX_CLIENT_SECRET):
        assert secret not in haystack


def test_alert_webhook_sends_needs_reauth_and_recovery(settings_factory: Any, sandbox: Any, alert_sink: Any) -> None:
    hook_url, payloads = alert_sink
    ctx = build_context(settings_factory(dashboard_alert_webhook_url=hook_url, dashboard_alert_failure_threshold=2,
                                         dashboard_alert_min_interval_seconds=0),
                        sandbox_url=sandbox.url, retry=FAST_RETRY)
    try:
        hub = install_portal(ctx, sandbox.url).hub_id
        control(sandbox.url, "faults", {"target": "token", "error_rate": 1.0, "error_status": 502})
        for _ in range(2):
            refresh.refresh_portal(ctx, hub, actor=ADMIN, force=True)
        control(sandbox.url, "faults", {"target": "token"})
        with ctx.session() as s:
            repository.update_portal(session=s, hub_id=hub, values={"expires_at": utcnow() + timedelta(seconds=1)})
            s.commit()
        assert refresh.refresh_portal(ctx, hub, actor=ADMIN).result == "refreshed"
    finally:
        ctx.close()
    events = [json.loads(p)["event"] for p in payloads]
    assert events == ["refresh_failing", "recovered"]
    body = json.loads(payloads[0])
    assert body["hub_id"] == hub and "text" in body and body["consecutive_failures"] == 2
