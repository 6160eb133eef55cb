"""Sendable links: a fresh state per opening, single install, revocable, expiring; refused ones reach HubSpot 0 times.

Also the callback for a browser that is not signed in (``finish_install_for_state_holder``) and the sign-out
epoch that refuses a replayed sign-in cookie.
"""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, update
from sqlmodel import SQLModel, select
from starlette.applications import Starlette

from dashboard import repository
from dashboard.actors import VIEWER, Actor
from dashboard.admin import sign_outs
from dashboard.connections import activity
from dashboard.context import AppContext
from dashboard.errors import PermissionDeniedError, StateError
from dashboard.installs import flow as install
from dashboard.installs import links as install_links
from dashboard.models import InstallAttempt, InstallLink, utcnow
from dashboard.web import connect
from dashboard.web.runtime import set_shared_context
from tests.utils.asgi import Client
from tests.utils.lifecycle import ADMIN, grant, stats

SCOPES = ("oauth", "crm.objects.contacts.read")


@pytest.fixture
def db_url(any_db_url: str) -> str:
    """Every test here runs on SQLite and on PostgreSQL."""
    return any_db_url


def token_requests(ctx: AppContext) -> int:
    assert ctx.sandbox_url is not None
    return sum(stats(ctx.sandbox_url)["token_requests"].values())


def token_of(link: install_links.SendableLink) -> str:
    return link.url.rsplit("/", 1)[1]


def complete(ctx: AppContext, authorize_url: str) -> install.InstallResult:
    assert ctx.sandbox_url is not None
    callback = grant(ctx.sandbox_url, authorize_url)
    return install.finish_install_for_state_holder(ctx, params=install.callback_params(callback))


def backdate(ctx: AppContext, link_id: int, **values: Any) -> None:
    with ctx.session() as session:
        session.execute(update(InstallLink).where(InstallLink.id == link_id).values(**values))  # type: ignore[arg-type]
        session.commit()


def test_a_link_installs_once_for_a_browser_that_is_not_signed_in(ctx: AppContext) -> None:
    link = install_links.create_link(ctx, actor=ADMIN, scopes=SCOPES)
    assert link.url.startswith("http://localhost:8501/connect/") and len(token_of(link)) >= 43
    assert link.expires_at - utcnow() > timedelta(days=6, hours=23)  # DASHBOARD_LINK_TTL_DAYS default 7
    result = complete(ctx, install_links.open_link(ctx, token=token_of(link)))
    assert result.hub_id and not result.reinstall
    [listed] = install_links.list_links(ctx, actor=ADMIN)
    assert listed.status == "used" and listed.used_hub_id == result.hub_id and listed.created_by == ADMIN.name
    # The operator who made the link sees the install in the audit log, in their name.
    events = activity.audit_events(ctx, actor=ADMIN, hub_id=result.hub_id, limit=10)
    assert any(e.action == "install" and e.actor == ADMIN.name for e in events)
    before = token_requests(ctx)
    with pytest.raises(StateError) as used:
        install_links.open_link(ctx, token=token_of(link))
    assert used.value.code == "link_used" and "already used" in str(used.value)
    assert token_requests(ctx) == before


def test_a_link_opened_after_its_state_would_have_expired_still_works(ctx: AppContext) -> None:
    link = install_links.create_link(ctx, actor=ADMIN, scopes=SCOPES)
    backdate(ctx, link.link_id, created_at=utcnow() - timedelta(days=6))  # a state would have died 6 days ago
    assert complete(ctx, install_links.open_link(ctx, token=token_of(link))).hub_id


def test_states_from_one_link_install_at_most_once(ctx: AppContext) -> None:
    """The customer opens the link twice (two tabs) and consents in both: the second callback is refused
    before its code reaches HubSpot."""
    link = install_links.create_link(ctx, actor=ADMIN, scopes=SCOPES)
    first = install_links.open_link(ctx, token=token_of(link))
    second = install_links.open_link(ctx, token=token_of(link))
    assert ctx.sandbox_url is not None
    callbacks = [grant(ctx.sandbox_url, url) for url in (first, second)]
    install.finish_install_for_state_holder(ctx, params=install.callback_params(callbacks[0]))
    before = token_requests(ctx)
    with pytest.raises(StateError) as refused:
        install.finish_install_for_state_holder(ctx, params=install.callback_params(callbacks[1]))
    assert refused.value.code == "link_used" and token_requests(ctx) == before


def test_a_declined_consent_leaves_the_link_usable(ctx: AppContext) -> None:
    link = install_links.create_link(ctx, actor=ADMIN, scopes=SCOPES)
    assert ctx.sandbox_url is not None
    denied = grant(ctx.sandbox_url, install_links.open_link(ctx, token=token_of(link)), decision="deny")
    with pytest.raises(Exception, match="did not grant"):
        install.finish_install_for_state_holder(ctx, params=install.callback_params(denied))
    assert complete(ctx, install_links.open_link(ctx, token=token_of(link))).hub_id


def test_revoked_and_expired_links_reach_hubspot_zero_times(ctx: AppContext) -> None:
    revoked = install_links.create_link(ctx, actor=ADMIN, scopes=SCOPES)
    pending = install_links.open_link(ctx, token=token_of(revoked))  # opened before the revocation
    assert ctx.sandbox_url is not None
    callback = grant(ctx.sandbox_url, pending)
    install_links.revoke_link(ctx, actor=ADMIN, link_id=revoked.link_id)
    expired = install_links.create_link(ctx, actor=ADMIN, scopes=SCOPES, ttl=timedelta(minutes=5))
    backdate(ctx, expired.link_id, expires_at=utcnow() - timedelta(seconds=1))
    before = token_requests(ctx)
    for link, code in ((revoked, "link_revoked"), (expired, "link_expired")):
        with pytest.raises(StateError) as refused:
            install_links.open_link(ctx, token=token_of(link))
        assert refused.value.code == code
    with pytest.raises(StateError) as late:  # the state made before the revocation no longer installs
        install.finish_install_for_state_holder(ctx, params=install.callback_params(callback))
    assert late.value.code == "link_used"
    assert token_requests(ctx) == before
    statuses = {link.link_id: link.status for link in install_links.list_links(ctx, actor=ADMIN)}
    assert statuses == {revoked.link_id: "revoked", expired.link_id: "expired"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(max_size=200))
def test_any_unknown_link_is_refused_without_a_state(ctx: AppContext, token: str) -> None:
    with pytest.raises(StateError) as refused:
        install_links.open_link(ctx, token=token)
    assert refused.value.code == "link_unknown"
    with ctx.session() as session:
        assert repository.list_install_links(session=session) == []
        assert session.exec(select(func.count()).select_from(InstallAttempt)).one() == 0


def test_a_viewer_cannot_make_or_revoke_links(ctx: AppContext) -> None:
    viewer = Actor("ana@example.com", VIEWER)
    with pytest.raises(PermissionDeniedError):
        install_links.create_link(ctx, actor=viewer, scopes=SCOPES)
    link = install_links.create_link(ctx, actor=ADMIN, scopes=SCOPES)
    with pytest.raises(PermissionDeniedError):
        install_links.revoke_link(ctx, actor=viewer, link_id=link.link_id)


def test_a_callback_without_a_known_state_does_nothing_for_a_signed_out_browser(ctx: AppContext) -> None:
    before = token_requests(ctx)
    for params in ({"code": "x"}, {"code": "x", "state": "forged"}, {"error": "access_denied"}):
        with pytest.raises(StateError):
            install.finish_install_for_state_holder(ctx, params=params)
    assert token_requests(ctx) == before


def test_reconsent_link_is_pinned_to_the_account(ctx: AppContext) -> None:
    link = install_links.create_link(ctx, actor=ADMIN, scopes=SCOPES)
    hub = complete(ctx, install_links.open_link(ctx, token=token_of(link))).hub_id
    again = install_links.create_reconsent_link(ctx, actor=ADMIN, hub_id=hub)
    url = install_links.open_link(ctx, token=token_of(again))
    assert f"/oauth/{hub}/authorize" in url
    assert complete(ctx, url).reinstall


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(signed_in_ago=st.floats(min_value=1, max_value=30 * 86_400), signed_out_ago=st.floats(0, 30 * 86_400))
def test_a_sign_in_issued_before_the_last_sign_out_is_refused(ctx: AppContext, signed_in_ago: float,
                                                              signed_out_ago: float) -> None:
    """The replayed cookie: its ID token's ``iat`` predates the sign-out, so every page refuses it."""
    email = f"user-{uuid.uuid4().hex}@example.com"  # a user who never signed out before
    now = utcnow().timestamp()
    assert sign_outs.sign_in_current(ctx, email=email, issued_at=now - signed_in_ago)  # never signed out
    sign_outs.sign_out(ctx, actor=Actor(email, VIEWER))
    with ctx.session() as session:
        repository.bump_sign_out(session=session, email=email, now=utcnow() - timedelta(seconds=signed_out_ago))
        session.commit()
    with ctx.session() as session:  # the sign-out itself (a moment after ``now``) may be the later of the two
        record = repository.get_sign_out(session=session, email=email)
        assert record is not None and record.signed_out_at is not None
        signed_out_at = record.signed_out_at.replace(tzinfo=UTC).timestamp()
    issued = now - signed_in_ago
    assert sign_outs.sign_in_current(ctx, email=email.upper(), issued_at=issued) == (issued >= int(signed_out_at))
    assert sign_outs.sign_in_current(ctx, email=email, issued_at=now + 1)  # a fresh sign-in works
    assert not sign_outs.sign_in_current(ctx, email=email, issued_at=None)


def rows_everywhere(ctx: AppContext) -> int:
    with ctx.session() as session:
        return sum(session.exec(select(func.count()).select_from(table)).one()
                   for table in SQLModel.metadata.sorted_tables)


def test_opening_one_link_300_times_writes_at_most_50_rows(ctx: AppContext) -> None:
    link = install_links.create_link(ctx, actor=ADMIN, scopes=SCOPES)
    before = rows_everywhere(ctx)
    web = Client(Starlette(routes=connect.routes()))
    set_shared_context(ctx)
    try:
        answers = [web.get(f"/connect/{token_of(link)}", host="localhost:8501").status for _ in range(300)]
    finally:
        set_shared_context(None)
    written = rows_everywhere(ctx) - before
    assert written <= 50, written
    assert answers[:install_links.LIVE_STATES] == [302] * install_links.LIVE_STATES
    assert set(answers[install_links.LIVE_STATES:]) == {429}  # "opened many times": wait, nothing written
    [event] = activity.audit_events(ctx, actor=ADMIN, action="link.open", limit=10)
    assert event.detail.endswith("opened 1 time since the previous event")
    # A minute later, the next opening reports every opening since: one event, with the count.
    backdate(ctx, link.link_id, open_audited_at=utcnow() - timedelta(seconds=61))
    with pytest.raises(StateError) as busy:
        install_links.open_link(ctx, token=token_of(link))
    assert busy.value.code == "link_busy"
    events = activity.audit_events(ctx, actor=ADMIN, action="link.open", limit=10)
    assert len(events) == 2 and "opened 300 times since the previous event" in events[0].detail


def test_the_link_still_works_for_the_customer_while_it_is_flooded(ctx: AppContext) -> None:
    link = install_links.create_link(ctx, actor=ADMIN, scopes=SCOPES)
    urls = [install_links.open_link(ctx, token=token_of(link)) for _ in range(install_links.LIVE_STATES)]
    assert complete(ctx, urls[-1]).hub_id  # any state it handed out still installs


def test_unknown_links_write_nothing(ctx: AppContext) -> None:
    before = rows_everywhere(ctx)
    for n in range(100):
        with pytest.raises(StateError):
            install_links.open_link(ctx, token=f"not-a-link-{n}")
    assert rows_everywhere(ctx) == before
