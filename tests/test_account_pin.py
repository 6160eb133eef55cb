"""An account pin holds: an install, link or re-consent link pinned to one HubSpot account is refused at the
callback when HubSpot grants another account (someone edited ``/oauth/{accountId}/authorize`` out of the URL
and chose another account on the consent page; the sandbox offers every account then).

Refused means: no portal row created or changed, the state spent, an audit event ``rejected`` naming both hub
ids, the refused refresh token revoked at HubSpot, and one sentence for the customer saying what happened.
Covered: a pinned install URL (the New install page's and ``install start --account-id``), a sendable link
(``links create --account-id``) and ``links reconsent``, in both OAuth API versions, and the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from dashboard import repository
from dashboard.connections import activity
from dashboard.context import AppContext
from dashboard.errors import InstallError, StateError
from dashboard.installs import flow as install
from dashboard.installs import links as install_links
from dashboard.models import Portal
from tests.utils.cli import SandboxCli
from tests.utils.lifecycle import ADMIN, FAST_RETRY, grant, install_portal, stats

PINNED, OTHER = 1000001, 1000002
SCOPES = ("oauth", "crm.objects.contacts.read")


def unpinned(authorize_url: str, account: int) -> str:
    """The attacker's edit: the account path segment removed, so the consent page offers every account."""
    edited = authorize_url.replace(f"/oauth/{account}/authorize", "/oauth/authorize")
    assert edited != authorize_url, authorize_url
    return edited


def portals(ctx: AppContext) -> list[tuple[int, str, int | None, str]]:
    with ctx.session() as session:
        rows = session.exec(select(Portal)).all()
        return sorted((p.hub_id, p.granted_scopes, p.token_version, p.requested_scopes) for p in rows)


def assert_refused(ctx: AppContext, exc: InstallError, before: list[Any], revokes_before: int) -> None:
    assert exc.code == "account_mismatch"
    text = str(exc)
    assert str(PINNED) in text and str(OTHER) in text and "Nothing was changed" in text
    assert portals(ctx) == before  # no row created or changed
    [event] = [e for e in activity.audit_events(ctx, actor=ADMIN, limit=50) if e.outcome == "rejected"
               and "account pin" in e.detail]
    assert event.action == "install.callback" and event.hub_id == OTHER
    assert f"pinned to hub {PINNED}" in event.detail and f"granted hub {OTHER}" in event.detail
    assert ctx.sandbox_url is not None
    assert stats(ctx.sandbox_url)["revoke"] == revokes_before + 1  # the refused grant is not left usable


@pytest.fixture(params=["2026-03", "v1"])
def api_ctx(request: pytest.FixtureRequest, settings_factory: Any, sandbox: Any) -> Any:
    from dashboard.context import build_context

    ctx = build_context(settings_factory(hubspot_oauth_api=request.param), sandbox_url=sandbox.url,
                        retry=FAST_RETRY)
    yield ctx
    ctx.close()


def test_a_pinned_install_url_edited_to_another_account_is_refused(api_ctx: AppContext) -> None:
    ctx = api_ctx
    assert ctx.sandbox_url is not None
    install_portal(ctx, ctx.sandbox_url, account_id=OTHER)  # the other account is a connected portal already
    before, revokes = portals(ctx), stats(ctx.sandbox_url)["revoke"]
    start = install.start_install(ctx, actor=ADMIN, scopes=[*SCOPES, "automation"], account_id=PINNED)
    callback = grant(ctx.sandbox_url, unpinned(start.url, PINNED), account_id=OTHER)
    params = install.callback_params(callback)
    with pytest.raises(InstallError) as refused:
        install.finish_install(ctx, actor=ADMIN, params=params)
    assert_refused(ctx, refused.value, before, revokes)
    with pytest.raises(StateError) as again:  # the state is spent
        install.finish_install(ctx, actor=ADMIN, params=params)
    assert again.value.code == "state_reused"


def test_the_pinned_account_itself_still_installs(ctx: AppContext) -> None:
    assert ctx.sandbox_url is not None
    assert install_portal(ctx, ctx.sandbox_url, account_id=PINNED).hub_id == PINNED


@pytest.mark.parametrize("kind", ["link", "reconsent"])
def test_a_pinned_link_opened_and_edited_to_another_account_is_refused_and_stays_usable(
        ctx: AppContext, kind: str) -> None:
    assert ctx.sandbox_url is not None
    install_portal(ctx, ctx.sandbox_url, account_id=PINNED)
    install_portal(ctx, ctx.sandbox_url, account_id=OTHER)
    if kind == "link":
        link = install_links.create_link(ctx, actor=ADMIN, scopes=SCOPES, account_id=PINNED)
    else:
        link = install_links.create_reconsent_link(ctx, actor=ADMIN, hub_id=PINNED)
    token = link.url.rsplit("/", 1)[1]
    before, revokes = portals(ctx), stats(ctx.sandbox_url)["revoke"]
    authorize = install_links.open_link(ctx, token=token)
    callback = grant(ctx.sandbox_url, unpinned(authorize, PINNED), account_id=OTHER)
    with pytest.raises(InstallError) as refused:  # the customer's browser, not signed in
        install.finish_install_for_state_holder(ctx, params=install.callback_params(callback))
    assert_refused(ctx, refused.value, before, revokes)
    # The link was not used up by the refused grant: the right account can still connect with it.
    assert install_links.list_links(ctx, actor=ADMIN)[0].status == "open"
    right = grant(ctx.sandbox_url, install_links.open_link(ctx, token=token))
    assert install.finish_install_for_state_holder(ctx, params=install.callback_params(right)).hub_id == PINNED
    with ctx.session() as session:
        assert repository.get_portal(session=session, hub_id=OTHER) is not None


def test_cli_account_id_install_and_links_reconsent_hold_their_pin(tmp_path: Path, sandbox: Any) -> None:
    cli = SandboxCli(tmp_path, sandbox.url)
    url = cli("install", "start", "--scope", *SCOPES, "--account-id", str(OTHER)).stdout.strip().splitlines()[-1]
    cli("install", "finish", "-", stdin=grant(sandbox.url, url) + "\n")  # OTHER is connected
    url = cli("install", "start", "--scope", *SCOPES, "--account-id", str(PINNED)).stdout.strip().splitlines()[-1]
    cli("install", "finish", "-", stdin=grant(sandbox.url, url) + "\n")  # and PINNED
    before = json.loads(cli("connections", "--json").stdout)

    url = cli("install", "start", "--scope", *SCOPES, "automation", "--account-id",
              str(PINNED)).stdout.strip().splitlines()[-1]
    refused = cli("install", "finish", "-", stdin=grant(sandbox.url, unpinned(url, PINNED), account_id=OTHER) + "\n",
                  expect=1)
    assert f"for HubSpot account {PINNED}, but HubSpot connected account {OTHER}" in refused.stderr
    assert refused.stderr.strip().count("\n") == 0

    link = cli("links", "reconsent", str(PINNED)).stdout.strip().splitlines()[-1]
    assert "/connect/" in link
    # The customer opens it (what /connect/<id> does), edits the account out and grants the other one.
    from dashboard.context import build_context
    from dashboard.settings import load_settings

    ctx = build_context(load_settings(cli.env, secrets_path=None), sandbox_url=sandbox.url, retry=FAST_RETRY)
    try:
        authorize = install_links.open_link(ctx, token=link.rsplit("/", 1)[1])
        callback = grant(sandbox.url, unpinned(authorize, PINNED), account_id=OTHER)
        with pytest.raises(InstallError) as reconsent:
            install.finish_install_for_state_holder(ctx, params=install.callback_params(callback))
    finally:
        ctx.close()
    assert reconsent.value.code == "account_mismatch"
    assert json.loads(cli("connections", "--json").stdout) == before
    events = json.loads(cli("audit", "--json", "--hub-id", str(OTHER)).stdout)
    assert sum(e["outcome"] == "rejected" and f"pinned to hub {PINNED}" in e["detail"] for e in events) == 2
