"""Lifecycle webhooks end to end, on SQLite and PostgreSQL: every event type from its state change, signed
per Standard Webhooks (verified with the ``standardwebhooks`` library), valid against its JSON Schema in
docs/webhooks/, never holding a token; the outbox is atomic with the change; ordered per endpoint and portal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import func, select

from dashboard import repository
from dashboard.connections import service as connections
from dashboard.connections import uninstall
from dashboard.context import AppContext, build_context
from dashboard.models import PortalStatus, utcnow
from dashboard.refresh import service as refresh
from dashboard.webhook_models import WebhookDelivery, WebhookEvent
from dashboard.webhooks import endpoints, events, outbox
from dashboard.webhooks.delivery import deliver_due
from tests.utils.lifecycle import ADMIN, FAST_RETRY, add_accounts, control, install_portal, sandbox_tokens
from tests.utils.webhook_receiver import Answer, Receiver, webhook_receiver

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "webhooks"


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


@pytest.fixture
def wctx(settings_factory: Any, sandbox: Any) -> Iterator[AppContext]:
    ctx = build_context(settings_factory(dashboard_webhook_allow_private=True), sandbox_url=sandbox.url,
                        retry=FAST_RETRY)
    yield ctx
    ctx.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def _counts(ctx: AppContext) -> tuple[int, int]:
    with ctx.session() as s:
        return (int(s.execute(select(func.count()).select_from(WebhookEvent)).scalar_one()),
                int(s.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one()))


def _drain(ctx: AppContext) -> None:
    for _ in range(10):
        if not deliver_due(ctx).attempts:
            return


def _schema(event_type: str) -> Any:
    return json.loads((SCHEMAS / f"{event_type}.schema.json").read_text())


def _no_token(body: bytes, tokens: list[str]) -> None:
    text = body.decode()
    assert not any(t and t in text for t in tokens)
    assert "token" not in json.dumps(list(json.loads(text)["data"]))  # no field is named like one


def test_every_event_type_is_delivered_signed_valid_and_tokenless(wctx: AppContext, sandbox: Any,
                                                                  receiver: Receiver) -> None:
    created = endpoints.add_endpoint(wctx, actor=ADMIN, url=receiver.url, description="all events")
    hub = install_portal(wctx, sandbox.url).hub_id                                            # created
    install_portal(wctx, sandbox.url, scopes=["oauth", "crm.objects.contacts.read", "crm.objects.companies.read"],
                   account_id=hub)                                                       # reauthorized, scopes_changed
    control(sandbox.url, "faults", {"target": "token", "error_rate": 1.0, "error_status": 503})
    for _ in range(wctx.settings.dashboard_alert_failure_threshold):
        assert refresh.refresh_portal(wctx, hub, actor=ADMIN, force=True).result == "failed"  # refresh_failed once
    control(sandbox.url, "faults", {"target": "token"})
    assert refresh.refresh_portal(wctx, hub, actor=ADMIN, force=True).result == "refreshed"  # recovered
    control(sandbox.url, "uninstall", {"hub_id": hub})
    assert refresh.refresh_portal(wctx, hub, actor=ADMIN, force=True).result == "needs_reauth"  # needs_reauth
    install_portal(wctx, sandbox.url, account_id=hub)                                  # reauthorized, scopes_changed
    with wctx.session() as s:
        repository.update_portal(session=s, hub_id=hub, values={"key_id": "gone"})
        s.commit()
    assert refresh.refresh_portal(wctx, hub, actor=ADMIN, force=True).result == "failed"  # key_problem
    connections.revoke(wctx, hub, actor=ADMIN, local_only=True)                        # revoked
    other = add_accounts(sandbox.url, 1)[0]
    install_portal(wctx, sandbox.url, account_id=other)                                # created
    uninstall.uninstall_from_account(wctx, other, actor=ADMIN)                         # uninstalled
    with wctx.session() as s:
        outbox.hubspot_status_event(s, app=wctx.app_id, degraded=True, reason="HubSpot answers 503", since=utcnow())
        outbox.hubspot_status_event(s, app=wctx.app_id, degraded=False, reason="answers again", since=utcnow())
        s.commit()
    endpoints.send_test(wctx, actor=ADMIN, endpoint_id=created.endpoint.id)

    _drain(wctx)
    payloads = receiver.verified(created.secret)
    types = [p["type"] for p in payloads]
    assert set(types) == set(events.EVENT_TYPES)
    assert [p["type"] for p in payloads if p["data"]["hub_id"] == hub] == [
        events.CREATED, events.REAUTHORIZED, events.SCOPES_CHANGED, events.REFRESH_FAILED, events.RECOVERED,
        events.NEEDS_REAUTH, events.REAUTHORIZED, events.SCOPES_CHANGED, events.KEY_PROBLEM, events.REVOKED]
    tokens = [t for row in sandbox_tokens(sandbox.url) for k, t in row.items() if "token" in k and isinstance(t, str)]
    assert tokens
    for r, payload in zip(receiver.received, payloads, strict=True):
        jsonschema.validate(payload, _schema(payload["type"]), format_checker=jsonschema.FormatChecker())
        _no_token(r.body, tokens)
        assert r.headers["webhook-id"].startswith("msg_") and r.headers["content-type"] == "application/json"
    scopes = next(p for p in payloads if p["type"] == events.SCOPES_CHANGED)["data"]
    assert scopes["added_scopes"] == ["crm.objects.companies.read"] and scopes["removed_scopes"] == []
    rows = endpoints.list_deliveries(wctx, actor=ADMIN)
    assert {r.status for r in rows} == {"succeeded"} and all(r.attempts == 1 for r in rows)


def test_schema_per_event_type_is_documented() -> None:
    assert sorted(p.name for p in SCHEMAS.glob("*.schema.json")) == sorted(f"{t}.schema.json"
                                                                          for t in events.EVENT_TYPES)
    for t in events.EVENT_TYPES:
        jsonschema.Draft202012Validator.check_schema(_schema(t))
    assert "connection.created" in (SCHEMAS.parent / "webhooks.md").read_text()


def test_status_enum_names_every_status_the_health_machine_stores() -> None:
    """``data.status`` is the stored status: the schemas must list every one the state machine can write."""
    from dashboard.lifecycle.machine import KEY_RESULTS, HealthState, stored_status

    stored = {stored_status(s) for s in HealthState} | set(KEY_RESULTS)
    for t in events.EVENT_TYPES:
        status = _schema(t)["properties"]["data"]["properties"].get("status", {})
        if t.startswith("connection."):
            assert stored <= set(status["enum"]), t


def test_no_endpoint_no_outbox_rows(wctx: AppContext, sandbox: Any) -> None:
    install_portal(wctx, sandbox.url)
    assert _counts(wctx) == (0, 0)


def test_event_filter_per_endpoint(wctx: AppContext, sandbox: Any, receiver: Receiver) -> None:
    only = endpoints.add_endpoint(wctx, actor=ADMIN, url=receiver.url, event_types=[events.REVOKED])
    hub = install_portal(wctx, sandbox.url).hub_id
    connections.revoke(wctx, hub, actor=ADMIN, local_only=True)
    connections.revoke(wctx, hub, actor=ADMIN, local_only=True)  # already revoked: no second event
    _drain(wctx)
    assert [p["type"] for p in receiver.verified(only.secret)] == [events.REVOKED]


def test_outbox_is_atomic_with_the_change(wctx: AppContext, sandbox: Any, receiver: Receiver) -> None:
    """No event without its change: a transaction that fails after enqueue writes neither."""
    endpoints.add_endpoint(wctx, actor=ADMIN, url=receiver.url)
    hub = install_portal(wctx, sandbox.url).hub_id
    before = _counts(wctx)

    def change_enqueue_fail() -> None:
        with wctx.session() as s:
            portal = repository.get_portal(session=s, hub_id=hub)
            assert portal is not None
            repository.update_portal(session=s, hub_id=hub, values={"status": PortalStatus.REVOKED})
            outbox.portal_event(s, events.REVOKED, portal, reason="test", status=PortalStatus.REVOKED)
            assert _counts_in(s) == (before[0] + 1, before[1] + 1)
            raise RuntimeError("the transaction fails after enqueue")

    with pytest.raises(RuntimeError):
        change_enqueue_fail()
    assert _counts(wctx) == before
    with wctx.session() as s:
        stored = repository.get_portal(session=s, hub_id=hub)
    assert stored is not None and stored.status == PortalStatus.ACTIVE
    # No change without its event: the same write path commits both.
    connections.revoke(wctx, hub, actor=ADMIN, local_only=True)
    assert _counts(wctx) == (before[0] + 1, before[1] + 1)


def _counts_in(s: Any) -> tuple[int, int]:
    return (int(s.execute(select(func.count()).select_from(WebhookEvent)).scalar_one()),
            int(s.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one()))


def test_refresh_failure_event_rolls_back_with_a_failed_group_commit(wctx: AppContext, sandbox: Any,
                                                                    receiver: Receiver) -> None:
    """The refresh path's write (ctx.write_together) carries the event: when it fails, neither is written."""
    endpoints.add_endpoint(wctx, actor=ADMIN, url=receiver.url)
    hub = install_portal(wctx, sandbox.url).hub_id
    before = _counts(wctx)

    def fails(session: Any) -> None:
        portal = repository.get_portal(session=session, hub_id=hub)
        outbox.portal_event(session, events.NEEDS_REAUTH, portal, reason="x", status=PortalStatus.NEEDS_REAUTH)
        raise RuntimeError("after enqueue")

    with pytest.raises(RuntimeError):
        wctx.write_together(fails)
    assert _counts(wctx) == before


def test_order_per_portal_and_endpoint(settings_factory: Any, sandbox: Any, receiver: Receiver) -> None:
    """Many events of a few portals, the first attempts failing (retried at once): each portal's events
    still reach the receiver in the order they were committed."""
    wctx = build_context(settings_factory(dashboard_webhook_allow_private=True,
                                          dashboard_webhook_retry_schedule="0,0,0"), sandbox_url=sandbox.url)
    created = endpoints.add_endpoint(wctx, actor=ADMIN, url=receiver.url)
    with wctx.session() as s:
        for i in range(60):
            hub = 100 + i % 3
            outbox.enqueue(s, event_type=events.RECOVERED, data={
                "app": wctx.app_id, "hub_id": hub, "hub_domain": None, "status": "active", "reason": f"n{i}",
                "scopes": []})
        s.commit()
    receiver.script.extend([lambda r: Answer(500)] * 3)
    _drain(wctx)
    wctx.close()
    payloads = receiver.verified(created.secret)
    delivered: dict[int, list[int]] = {}
    for p in payloads:
        seq = delivered.setdefault(p["data"]["hub_id"], [])
        n = int(p["data"]["reason"][1:])
        if n not in seq:
            seq.append(n)
    for hub, seq in delivered.items():
        assert seq == sorted(seq), hub
    assert sum(len(v) for v in delivered.values()) == 60


def test_metrics_queue_depth_oldest_pending_and_outcomes(wctx: AppContext, receiver: Receiver) -> None:
    from dashboard.ops import counters, metrics

    endpoints.add_endpoint(wctx, actor=ADMIN, url=receiver.url + "?key=receivers-own-token")
    with wctx.session() as s:
        for hub in (1, 2):
            outbox.enqueue(s, event_type=events.RECOVERED, data={
                "app": wctx.app_id, "hub_id": hub, "hub_domain": None, "status": "active", "reason": "x",
                "scopes": []}, at=utcnow() - timedelta(seconds=90))
        s.commit()
    text = metrics.render(wctx).decode()
    assert "dashboard_webhook_queue_depth 2.0" in text
    age = next(float(line.split()[1]) for line in text.splitlines()
               if line.startswith("dashboard_webhook_oldest_pending_age_seconds "))
    assert age >= 90
    counters.record_webhook_pass(deliver_due(wctx))
    text = metrics.render(wctx).decode()
    assert 'dashboard_webhook_deliveries{status="succeeded"} 2.0' in text
    assert "dashboard_webhook_queue_depth 0.0" in text and "dashboard_webhook_oldest_pending_age_seconds 0.0" in text
    assert 'dashboard_webhook_attempts_total{outcome="succeeded"}' in text
    assert "receivers-own-token" not in text and "127.0.0.1" not in text


def test_the_secret_is_stored_encrypted_and_never_audited_or_listed(wctx: AppContext, receiver: Receiver) -> None:
    from sqlalchemy import text

    created = endpoints.add_endpoint(wctx, actor=ADMIN, url=receiver.url)
    rotated = endpoints.rotate_secret(wctx, actor=ADMIN, endpoint_id=created.endpoint.id)
    secrets = [s.removeprefix("whsec_") for s in (created.secret, rotated.secret)]
    dumped = []
    with wctx.session() as s:
        for table in ("webhook_endpoint", "audit_event", "webhook_event", "webhook_delivery"):
            dumped.extend(str(row) for row in s.execute(text(f"SELECT * FROM {table}")))  # noqa: S608
    assert dumped and not any(secret in row for secret in secrets for row in dumped)
    listed = repr(endpoints.list_endpoints(wctx, actor=ADMIN))
    assert not any(secret in listed for secret in secrets)


def test_viewers_and_operators_cannot_manage_endpoints(wctx: AppContext, receiver: Receiver) -> None:
    from dashboard.actors import OPERATOR, Actor
    from dashboard.errors import PermissionDeniedError

    operator = Actor("ops@example.com", OPERATOR)
    with pytest.raises(PermissionDeniedError):
        endpoints.add_endpoint(wctx, actor=operator, url=receiver.url)
    with pytest.raises(PermissionDeniedError):
        endpoints.list_deliveries(wctx, actor=operator)
    with pytest.raises(PermissionDeniedError):
        endpoints.redeliver(wctx, actor=operator, delivery_id=1)
