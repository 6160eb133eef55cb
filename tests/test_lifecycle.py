"""The OAuth lifecycle against the sandbox over loopback: install, refresh, revoke, health, errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from dashboard import repository
from dashboard.connections import service as connections
from dashboard.context import build_context
from dashboard.errors import AuthorizationDenied, InputError, PortalRevokedError, StateError, TransientError
from dashboard.installs import flow as install
from dashboard.models import PortalStatus, utcnow
from dashboard.refresh import service as refresh
from dashboard.security import vault
from tests.utils.lifecycle import ADMIN, FAST_RETRY, control, grant, install_portal, sandbox_tokens, stats


@pytest.fixture
def db_url(any_db_url: str) -> str:
    """Every lifecycle test runs on SQLite and on PostgreSQL."""
    return any_db_url


def _portal(ctx: Any, hub_id: int) -> Any:
    with ctx.session() as s:
        return repository.get_portal(session=s, hub_id=hub_id)


def _expire(ctx: Any, hub_id: int) -> None:
    with ctx.session() as s:
        repository.update_portal(session=s, hub_id=hub_id, values={"expires_at": utcnow() + timedelta(seconds=5)})
        s.commit()


@pytest.fixture(params=["2026-03", "v1"])
def api_ctx(request: pytest.FixtureRequest, settings_factory: Any, sandbox: Any) -> Any:
    ctx = build_context(settings_factory(hubspot_oauth_api=request.param), sandbox_url=sandbox.url, retry=FAST_RETRY)
    yield ctx
    ctx.close()


def test_full_install_refresh_revoke_in_each_api_version(api_ctx: Any, sandbox: Any) -> None:
    result = install_portal(api_ctx, sandbox.url, scopes=["oauth", "crm.objects.contacts.read"])
    assert result.hub_id and not result.reinstall
    assert "crm.objects.contacts.read" in result.granted_scopes
    portal = _portal(api_ctx, result.hub_id)
    assert portal.status == PortalStatus.ACTIVE and portal.hub_domain and portal.installed_by
    assert stats(sandbox.url)["token_requests"]["authorization_code"] == 1

    _expire(api_ctx, result.hub_id)
    out = refresh.refresh_portal(api_ctx, result.hub_id, actor=ADMIN)
    assert out.result == "refreshed"
    assert stats(sandbox.url)["token_requests"]["refresh_token"] == 1
    assert connections.test_connection(api_ctx, result.hub_id, actor=ADMIN).healthy
    info = connections.token_metadata(api_ctx, result.hub_id, actor=ADMIN)
    assert info.active and info.hub_id == result.hub_id

    connections.revoke(api_ctx, result.hub_id, actor=ADMIN)
    portal = _portal(api_ctx, result.hub_id)
    assert portal.status == PortalStatus.REVOKED and portal.refresh_token_ct is None
    assert stats(sandbox.url)["revoke"] == 1
    live = [t for t in sandbox_tokens(sandbox.url, result.hub_id) if t["kind"] == "refresh" and t["active"]]
    assert live == []


def test_reinstall_updates_same_row_and_records_scope_change(ctx: Any, sandbox: Any) -> None:
    first = install_portal(ctx, sandbox.url, scopes=["oauth"])
    second = install_portal(ctx, sandbox.url, scopes=["oauth", "crm.objects.contacts.read"])
    assert second.hub_id == first.hub_id and second.reinstall
    assert second.added_scopes == ("crm.objects.contacts.read",)
    with ctx.session() as s:
        assert repository.count_portals(session=s) == 1
        events = repository.list_audit_events(session=s, hub_id=first.hub_id, action="reinstall")
    assert "crm.objects.contacts.read" in events[0].detail


@pytest.mark.parametrize("case", ["missing", "forged", "expired", "reused"])
def test_bad_state_rejected_before_any_token_request(ctx: Any, sandbox: Any, case: str) -> None:
    start = install.start_install(ctx, actor=ADMIN, scopes=["oauth"])
    callback = install.callback_params(grant(sandbox.url, start.url))
    if case == "missing":
        callback.pop("state")
    elif case == "forged":
        callback["state"] = "forged-" + callback["state"]
    elif case == "expired":
        with ctx.session() as s:
            from sqlalchemy import update

            from dashboard.models import InstallAttempt
            s.execute(update(InstallAttempt).values(expires_at=utcnow() - timedelta(seconds=1)))
            s.commit()
    elif case == "reused":
        install.finish_install(ctx, actor=ADMIN, params=dict(callback))
    before = stats(sandbox.url)["token_requests"]["authorization_code"]
    with pytest.raises(StateError) as err:
        install.finish_install(ctx, actor=ADMIN, params=callback)
    assert stats(sandbox.url)["token_requests"]["authorization_code"] == before
    assert err.value.code == f"state_{'unknown' if case == 'forged' else case}"
    with ctx.session() as s:
        assert repository.list_audit_events(session=s, action="install.callback")


def test_denied_consent_is_a_clear_error(ctx: Any, sandbox: Any) -> None:
    start = install.start_install(ctx, actor=ADMIN, scopes=["oauth"])
    callback = grant(sandbox.url, start.url, decision="deny")
    with pytest.raises(AuthorizationDenied, match="did not grant access"):
        install.finish_install(ctx, actor=ADMIN, params=install.callback_params(callback))


def test_callback_url_without_query_is_input_error() -> None:
    with pytest.raises(InputError):
        install.callback_params("http://localhost:8501/install")


@pytest.mark.parametrize("rotate", [True, False])
def test_refresh_with_rotation_on_and_off(ctx: Any, sandbox: Any, rotate: bool) -> None:
    control(sandbox.url, "config", {"rotate_refresh_tokens": rotate})
    hub = install_portal(ctx, sandbox.url).hub_id
    old = vault.open_tokens(ctx.cipher, _portal(ctx, hub))
    for _ in range(3):
        assert refresh.refresh_portal(ctx, hub, actor=ADMIN, force=True).result == "refreshed"
    new = vault.open_tokens(ctx.cipher, _portal(ctx, hub))
    assert new.access_token != old.access_token
    assert (new.refresh_token != old.refresh_token) is rotate
    assert stats(sandbox.url)["errors"].get("invalid_grant", 0) == 0


def test_response_without_refresh_token_keeps_the_old_one(settings: Any, sandbox: Any) -> None:
    """HubSpot may omit refresh_token: an edge case the sandbox can't produce, so a MockTransport."""
    real = httpx.Client()

    def handler(request: httpx.Request) -> httpx.Response:
        resp = real.send(httpx.Request(request.method, request.url, headers=request.headers,
                                       content=request.read()))
        if request.url.path.endswith("/token") and b"grant_type=refresh_token" in request.content:
            body = resp.json()
            body.pop("refresh_token", None)
            return httpx.Response(200, json=body)
        return httpx.Response(resp.status_code, headers=resp.headers, content=resp.content)

    ctx = build_context(settings, sandbox_url=sandbox.url, transport=httpx.MockTransport(handler), retry=FAST_RETRY)
    try:
        hub = install_portal(ctx, sandbox.url).hub_id
        before = vault.open_tokens(ctx.cipher, _portal(ctx, hub))
        assert refresh.refresh_portal(ctx, hub, actor=ADMIN, force=True).result == "refreshed"
        after = vault.open_tokens(ctx.cipher, _portal(ctx, hub))
        assert after.refresh_token == before.refresh_token and after.access_token != before.access_token
    finally:
        ctx.close()
        real.close()


def test_uninstall_gives_needs_reauth_and_worker_stops(ctx: Any, sandbox: Any) -> None:
    hub = install_portal(ctx, sandbox.url).hub_id
    control(sandbox.url, "uninstall", {"hub_id": hub})
    _expire(ctx, hub)
    outcomes = refresh.refresh_due(ctx, concurrency=2, actor=ADMIN)
    assert [o.result for o in outcomes] == ["needs_reauth"]
    portal = _portal(ctx, hub)
    assert portal.status == PortalStatus.NEEDS_REAUTH and portal.refresh_token_ct is not None
    requests = stats(sandbox.url)["token_requests"]["refresh_token"]
    assert refresh.refresh_due(ctx, concurrency=2, actor=ADMIN) == []  # never retried automatically
    assert stats(sandbox.url)["token_requests"]["refresh_token"] == requests
    conn = connections.get_connection(ctx, hub, actor=ADMIN)
    assert conn.status == "needs_reauth"
    url = connections.reconsent_url(ctx, conn, actor=ADMIN)
    assert f"/oauth/{hub}/authorize" in url
    # The link is a real install: granting it reconnects the portal.
    assert install.finish_install(ctx, actor=ADMIN, params=install.callback_params(grant(sandbox.url, url))).reinstall
    assert connections.get_connection(ctx, hub, actor=ADMIN).status == "healthy"


@pytest.mark.parametrize("fault", [
    {"error_rate": 1.0, "error_status": 429},
    {"error_rate": 1.0, "error_status": 503},
    {"malformed_rate": 1.0},
])
def test_transient_failures_are_retried_then_recorded_tokens_intact(ctx: Any, sandbox: Any,
                                                                   fault: dict[str, Any]) -> None:
    hub = install_portal(ctx, sandbox.url).hub_id
    before = _portal(ctx, hub)
    control(sandbox.url, "faults", {"target": "token", **fault})
    _expire(ctx, hub)
    out = refresh.refresh_portal(ctx, hub, actor=ADMIN)
    assert out.result == "failed"
    after = _portal(ctx, hub)
    assert after.refresh_token_ct == before.refresh_token_ct and after.access_token_ct == before.access_token_ct
    assert after.status == PortalStatus.REFRESH_FAILING and after.consecutive_failures == 1
    assert after.next_attempt_at is not None and after.next_attempt_at > utcnow()
    assert after.last_error
    # Faulted answers never reach the grant logic; malformed JSON is a protocol error, not retried.
    assert stats(sandbox.url)["faults"] == (1 if "malformed_rate" in fault else FAST_RETRY.attempts)
    # Backing off: the worker leaves it alone until next_attempt_at.
    assert refresh.refresh_due(ctx, actor=ADMIN) == []
    control(sandbox.url, "faults", {"target": "token"})  # a rule with no faults
    assert refresh.refresh_portal(ctx, hub, actor=ADMIN).result == "refreshed"
    assert _portal(ctx, hub).status == PortalStatus.ACTIVE


def test_timeouts_are_transient(settings_factory: Any, sandbox: Any) -> None:
    settings = settings_factory(dashboard_http_timeout_seconds=0.3, dashboard_token_timeout_seconds=0.3)
    ctx = build_context(settings, sandbox_url=sandbox.url, retry=FAST_RETRY)
    try:
        hub = install_portal(ctx, sandbox.url).hub_id
        before = _portal(ctx, hub)
        control(sandbox.url, "faults", {"target": "token", "timeout_rate": 1.0})
        out = refresh.refresh_portal(ctx, hub, actor=ADMIN, force=True)
        assert out.result == "failed" and "timed out" in out.message
        assert _portal(ctx, hub).refresh_token_ct == before.refresh_token_ct
    finally:
        control(sandbox.url, "reset", {})
        ctx.close()


def test_get_access_token_refreshes_inside_leeway_and_call_api_works(ctx: Any, sandbox: Any) -> None:
    hub = install_portal(ctx, sandbox.url).hub_id
    first = refresh.get_access_token(ctx, hub, actor=ADMIN)
    assert refresh.get_access_token(ctx, hub, actor=ADMIN) == first  # fresh: no refresh
    _expire(ctx, hub)
    assert refresh.get_access_token(ctx, hub, actor=ADMIN) != first
    body = connections.call_api(ctx, hub, "GET", "/crm/v3/objects/contacts", params={"limit": 2}, actor=ADMIN)
    assert len(body["results"]) == 2


def test_revoke_failure_changes_nothing_and_local_only_forgets(ctx: Any, sandbox: Any) -> None:
    hub = install_portal(ctx, sandbox.url).hub_id
    control(sandbox.url, "faults", {"target": "token", "error_rate": 1.0, "error_status": 500})
    before = _portal(ctx, hub)
    with pytest.raises(TransientError, match="nothing was changed") as failed:
        connections.revoke(ctx, hub, actor=ADMIN)
    assert failed.value.status == 500  # reworded, not rebuilt: the fields survive
    assert _portal(ctx, hub).refresh_token_ct == before.refresh_token_ct
    connections.revoke(ctx, hub, actor=ADMIN, local_only=True)
    assert _portal(ctx, hub).status == PortalStatus.REVOKED
    _expire(ctx, hub)
    with pytest.raises(PortalRevokedError, match="revoked"):  # its own error, not a TransientError to retry
        refresh.get_access_token(ctx, hub, actor=ADMIN)
    with ctx.session() as s:
        assert repository.list_audit_events(session=s, hub_id=hub, action="revoke.local")


def test_get_access_token_waits_for_a_refresh_in_another_process(ctx: Any, sandbox: Any) -> None:
    """The lease is held elsewhere: the caller waits for that refresh instead of returning a stale token."""
    import threading

    hub = install_portal(ctx, sandbox.url).hub_id
    _expire(ctx, hub)
    stale = vault.open_tokens(ctx.cipher, _portal(ctx, hub)).access_token
    assert ctx.leases.acquire(hub, "other-process", timedelta(seconds=30))

    def other_process_finishes() -> None:
        ctx.leases.release(hub, "other-process")
        refresh.refresh_portal(ctx, hub, actor=ADMIN, force=True)

    timer = threading.Timer(0.5, other_process_finishes)
    timer.start()
    try:
        token = refresh.get_access_token(ctx, hub, actor=ADMIN)
    finally:
        timer.join()
    assert token != stale
    assert stats(sandbox.url)["token_requests"]["refresh_token"] == 1
