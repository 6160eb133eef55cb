"""Issue 13: the client against HubSpot's leaner documented answers, and uninstalling from an account.

Everything runs against the sandbox over loopback, with its fidelity switches set per case: the v1 guide's
four-field token body, metadata that fails N times, a mismatched redirect URI, ``BAD_HUB`` for uninstalled
apps, dead-token revokes answered with 200/400/401/404, and HubSpot's App uninstalls API.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from dashboard import repository
from dashboard.actors import Actor
from dashboard.connections import activity, uninstall
from dashboard.connections import service as connections
from dashboard.context import build_context
from dashboard.errors import (
    InputError,
    InstallError,
    InstallPendingError,
    InvalidClientError,
    NotFoundError,
    PermissionDeniedError,
)
from dashboard.installs import flow as install
from dashboard.installs import pending as pending_installs
from dashboard.models import PortalStatus, utcnow
from dashboard.refresh import service as refresh
from tests.utils.lifecycle import ADMIN, FAST_RETRY, control, grant, install_portal, sandbox_tokens, stats

ACME, GLOBEX = 1000001, 1000002
SCOPES = ("crm.objects.contacts.read", "oauth")
ATTEMPTS = FAST_RETRY.attempts  # one metadata lookup is this many requests


@pytest.fixture(params=["v1", "2026-03"])
def api_ctx(request: pytest.FixtureRequest, settings_factory: Any, sandbox: Any) -> Any:
    ctx = build_context(settings_factory(hubspot_oauth_api=request.param), sandbox_url=sandbox.url, retry=FAST_RETRY)
    yield ctx
    ctx.close()


@pytest.fixture
def v1_ctx(settings_factory: Any, sandbox: Any) -> Any:
    ctx = build_context(settings_factory(hubspot_oauth_api="v1"), sandbox_url=sandbox.url, retry=FAST_RETRY)
    yield ctx
    ctx.close()


def _portal(ctx: Any, hub_id: int) -> Any:
    with ctx.session() as s:
        return repository.get_portal(session=s, hub_id=hub_id)


def _actions(ctx: Any, hub_id: int | None = None) -> list[tuple[str, str, str]]:
    return [(e.action, e.outcome, e.detail) for e in activity.audit_events(ctx, actor=ADMIN, hub_id=hub_id,
                                                                             limit=100)]


# --- leaner token bodies and the metadata lookup ---------------------------------------------------------

def test_v1_install_against_the_guides_four_fields_stores_the_right_hub_and_scopes(v1_ctx: Any,
                                                                                  sandbox: Any) -> None:
    result = install_portal(v1_ctx, sandbox.url, account_id=GLOBEX)
    assert (result.hub_id, result.granted_scopes) == (GLOBEX, SCOPES)
    portal = _portal(v1_ctx, GLOBEX)
    assert (portal.hub_domain, portal.granted_scopes) == ("globex.hubspot.com", " ".join(SCOPES))
    assert stats(sandbox.url)["metadata"] >= 1  # the body named neither: metadata did


@pytest.mark.parametrize("failures", range(0, 3 * ATTEMPTS + 1))
def test_no_grant_is_lost_whatever_the_number_of_metadata_failures(v1_ctx: Any, sandbox: Any,
                                                                   failures: int) -> None:
    """Every count of consecutive metadata failures from 0 to three lookups' worth: the install finishes
    directly (fewer than one lookup's attempts) or is kept pending and finishes on a later retry; the code
    is exchanged once, and the portal ends with the right hub and scopes."""
    if failures:
        control(sandbox.url, "faults", {"target": "metadata", "error_rate": 1, "error_status": 503,
                                        "count": failures})
    start = install.start_install(v1_ctx, actor=ADMIN, scopes=SCOPES, account_id=ACME)
    params = install.callback_params(grant(sandbox.url, start.url))
    retries = 0
    pending: InstallPendingError | None = None
    try:
        install.finish_install(v1_ctx, actor=ADMIN, params=params)
    except InstallPendingError as exc:
        pending = exc
    assert (pending is not None) is (failures >= ATTEMPTS)
    if pending is not None:
        assert f"pending install #{pending.pending_id}" in str(pending) and "install resume" in str(pending)
        assert _portal(v1_ctx, ACME) is None
        finished = False
        while not finished:
            retries += 1
            assert retries <= failures // ATTEMPTS
            try:
                install.finish_pending_install(v1_ctx, actor=ADMIN, pending_id=pending.pending_id)
                finished = True
            except InstallPendingError:
                pass  # still failing: the tokens stay kept, the next retry may succeed
    assert retries == failures // ATTEMPTS
    portal = _portal(v1_ctx, ACME)
    assert (portal.status, portal.granted_scopes) == (PortalStatus.ACTIVE, " ".join(SCOPES))
    assert stats(sandbox.url)["token_requests"]["authorization_code"] == 1
    assert pending_installs.list_pending(v1_ctx, actor=ADMIN) == []
    assert refresh.refresh_portal(v1_ctx, ACME, actor=ADMIN, force=True).result == "refreshed"


def test_a_pending_install_keeps_its_tokens_encrypted_and_finishes_after_its_access_token_expired(
        v1_ctx: Any, sandbox: Any) -> None:
    control(sandbox.url, "faults", {"target": "metadata", "error_rate": 1, "error_status": 503,
                                    "count": ATTEMPTS})
    start = install.start_install(v1_ctx, actor=ADMIN, scopes=SCOPES, account_id=GLOBEX)
    with pytest.raises(InstallPendingError) as caught:
        install.finish_install(v1_ctx, actor=ADMIN, params=install.callback_params(grant(sandbox.url, start.url)))
    live = [t["token"] for t in sandbox_tokens(sandbox.url, GLOBEX)]
    with v1_ctx.session() as s:
        row = repository.get_pending_install(session=s, pending_id=caught.value.pending_id)
    assert row is not None and not [t for t in live if t in row.access_token_ct + row.refresh_token_ct]
    [listed] = pending_installs.list_pending(v1_ctx, actor=ADMIN)
    assert listed.attempts == 1 and "503" in listed.last_error and listed.required_scopes == SCOPES
    control(sandbox.url, "clock", {"advance": 3600})  # the access token died meanwhile: refresh metadata names it
    result = install.finish_pending_install(v1_ctx, actor=ADMIN, pending_id=listed.id)
    assert (result.hub_id, result.granted_scopes) == (GLOBEX, SCOPES)
    assert refresh.refresh_portal(v1_ctx, GLOBEX, actor=ADMIN, force=True).result == "refreshed"
    assert ("install.pending", "failure") in {(a, o) for a, o, _ in _actions(v1_ctx)}
    with pytest.raises(NotFoundError):  # finished: the record and its ciphertexts are gone
        install.finish_pending_install(v1_ctx, actor=ADMIN, pending_id=listed.id)


def test_resuming_needs_the_install_permission(v1_ctx: Any, sandbox: Any) -> None:
    with pytest.raises(PermissionDeniedError):
        install.finish_pending_install(v1_ctx, actor=Actor("v@example.com", "viewer"), pending_id=1)


# --- error fidelity ---------------------------------------------------------------------------------------

def test_a_mismatched_redirect_uri_is_reported_as_configuration_naming_both_uris(
        settings_factory: Any, sandbox: Any) -> None:
    started_with = "http://localhost:8501/install"
    starter = build_context(settings_factory(), sandbox_url=sandbox.url, retry=FAST_RETRY)
    other = "http://localhost:9000/install"
    finisher = build_context(settings_factory(hubspot_redirect_uri=other), sandbox_url=sandbox.url, retry=FAST_RETRY)
    try:
        start = install.start_install(starter, actor=ADMIN, scopes=SCOPES)
        with pytest.raises(InstallError) as caught:
            install.finish_install(finisher, actor=ADMIN,
                                   params=install.callback_params(grant(sandbox.url, start.url)))
    finally:
        starter.close()
        finisher.close()
    text = str(caught.value)
    assert caught.value.code == "redirect_uri_mismatch"
    assert other in text and started_with in text and "HUBSPOT_REDIRECT_URI" in text
    assert "expired" not in text.replace("not an expired code", "")


def test_bad_hub_for_an_uninstalled_app_means_needs_reauth(api_ctx: Any, sandbox: Any) -> None:
    hub = install_portal(api_ctx, sandbox.url, account_id=ACME).hub_id
    control(sandbox.url, "config", {"uninstall_mode": "bad_hub"})
    control(sandbox.url, "uninstall", {"hub_id": hub})
    out = refresh.refresh_portal(api_ctx, hub, actor=ADMIN, force=True)
    assert out.result == "needs_reauth"
    assert _portal(api_ctx, hub).status == PortalStatus.NEEDS_REAUTH
    assert stats(sandbox.url)["errors"] == {"access_denied": 1}


# --- idempotent revoke ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dead_status", [200, 400, 401, 404])
def test_revoking_a_needs_reauth_portal_works_without_local_only(api_ctx: Any, sandbox: Any,
                                                                 dead_status: int) -> None:
    hub = install_portal(api_ctx, sandbox.url, account_id=ACME).hub_id
    control(sandbox.url, "config", {"revoke_dead_token_status": dead_status})
    control(sandbox.url, "uninstall", {"hub_id": hub})  # the customer uninstalled: the token is dead there
    assert refresh.refresh_portal(api_ctx, hub, actor=ADMIN, force=True).result == "needs_reauth"
    connections.revoke(api_ctx, hub, actor=ADMIN)
    assert _portal(api_ctx, hub).status == PortalStatus.REVOKED and _portal(api_ctx, hub).refresh_token_ct is None
    action, outcome, detail = _actions(api_ctx, hub)[0]
    assert (action, outcome) == ("revoke", "success")
    assert ("already considered the refresh token dead" in detail) is (dead_status != 200)


def test_revoke_still_fails_loudly_for_a_wrong_client_secret(ctx: Any, sandbox: Any) -> None:
    """Idempotence covers dead tokens only: a configuration error must not pass for a revoke."""
    hub = install_portal(ctx, sandbox.url, account_id=ACME).hub_id
    ctx.hubspot.app = replace(ctx.hubspot.app, client_secret="wrong")
    with pytest.raises(InvalidClientError, match="nothing was changed here"):
        connections.revoke(ctx, hub, actor=ADMIN)
    assert _portal(ctx, hub).status == PortalStatus.ACTIVE


# --- uninstall from the account ---------------------------------------------------------------------------

@pytest.mark.parametrize("expired", [False, True], ids=["fresh", "expired-first-refreshed"])
def test_uninstall_from_account(api_ctx: Any, sandbox: Any, expired: bool) -> None:
    hub = install_portal(api_ctx, sandbox.url, account_id=GLOBEX).hub_id
    install_portal(api_ctx, sandbox.url, account_id=ACME)
    if expired:
        with api_ctx.session() as s:
            repository.update_portal(session=s, hub_id=hub, values={"expires_at": utcnow() - timedelta(seconds=1)})
            s.commit()
        control(sandbox.url, "clock", {"advance": 1801})
    uninstall.uninstall_from_account(api_ctx, hub, actor=ADMIN)
    sb = stats(sandbox.url)
    assert sb["app_uninstalls"] == 1
    assert sb["token_requests"]["refresh_token"] == (1 if expired else 0)
    assert not [t for t in sandbox_tokens(sandbox.url, hub) if t["active"]]
    assert {i["hub_id"] for i in control_get(sandbox.url, "installs")["installs"]} == {ACME}
    portal = _portal(api_ctx, hub)
    assert (portal.status, portal.access_token_ct, portal.refresh_token_ct) == (PortalStatus.UNINSTALLED, None, None)
    assert [c.hub_id for c in connections.list_connections(api_ctx, actor=ADMIN)] == [ACME]
    shown = connections.list_connections(api_ctx, actor=ADMIN, statuses=["uninstalled"])
    assert [(c.hub_id, c.status) for c in shown] == [(hub, "uninstalled")]
    assert connections.summary(shown)["connected"] == 0
    assert _actions(api_ctx, hub)[0][:2] == ("uninstall", "success")
    with pytest.raises(InputError, match="already uninstalled"):
        uninstall.uninstall_from_account(api_ctx, hub, actor=ADMIN)
    assert refresh.refresh_portal(api_ctx, hub, actor=ADMIN, force=True).result == "skipped"


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_uninstall_is_for_admins_only(ctx: Any, sandbox: Any, role: str) -> None:
    hub = install_portal(ctx, sandbox.url, account_id=ACME).hub_id
    with pytest.raises(PermissionDeniedError):
        uninstall.uninstall_from_account(ctx, hub, actor=Actor(f"{role}@example.com", role))
    assert stats(sandbox.url)["app_uninstalls"] == 0
    assert _actions(ctx, hub)[0][:2] == ("uninstall", "denied")


def test_a_failed_uninstall_changes_nothing_here(ctx: Any, sandbox: Any) -> None:
    hub = install_portal(ctx, sandbox.url, account_id=ACME).hub_id
    control(sandbox.url, "faults", {"target": "api", "error_rate": 1, "error_status": 503})
    with pytest.raises(Exception, match="nothing was changed here"):
        uninstall.uninstall_from_account(ctx, hub, actor=ADMIN)
    assert _portal(ctx, hub).status == PortalStatus.ACTIVE
    assert _actions(ctx, hub)[0][:2] == ("uninstall", "failure")


def control_get(sandbox_url: str, path: str) -> Any:
    import httpx

    resp = httpx.get(f"{sandbox_url}/_sandbox/{path}", timeout=10)
    resp.raise_for_status()
    return resp.json()
