"""The sweep's own rules (issue #4): ``--within``, ``limit``, stop, leases left alone, and token import."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from dashboard import repository
from dashboard.errors import InputError
from dashboard.installs import flow as install
from dashboard.models import PortalStatus, utcnow
from dashboard.refresh import service as refresh
from dashboard.security import vault
from tests.utils.lifecycle import ADMIN, stats
from tests.utils.seeding import make_due, seed_portals


def test_within_wider_than_the_leeway_is_honoured_under_the_lease(ctx: Any, sandbox: Any) -> None:
    """A portal due only by ``--within`` (not by the leeway) is refreshed, once, and then left alone."""
    hubs = seed_portals(ctx, sandbox.url, 3, due=False)
    make_due(ctx, hubs, expires_at=utcnow() + timedelta(seconds=900))  # leeway is 300 s
    assert refresh.refresh_due(ctx, actor=ADMIN) == []
    outcomes = refresh.refresh_due(ctx, within=timedelta(seconds=1200), actor=ADMIN)
    assert sorted(o.hub_id for o in outcomes) == hubs and {o.result for o in outcomes} == {"refreshed"}
    assert refresh.refresh_due(ctx, within=timedelta(seconds=1200), actor=ADMIN) == []
    assert stats(sandbox.url)["token_requests"]["refresh_token"] == 3
    for hub in hubs:  # the per-portal path (Redis leases) re-checks with the same window
        assert refresh.refresh_portal(ctx, hub, within=timedelta(seconds=1200), actor=ADMIN).result == "fresh"


def test_limit_and_stop(ctx: Any, sandbox: Any) -> None:
    hubs = seed_portals(ctx, sandbox.url, 5)
    assert len(refresh.refresh_due(ctx, limit=2, concurrency=8, actor=ADMIN)) == 2
    stop = threading.Event()
    stop.set()
    assert refresh.refresh_due(ctx, stop=stop, actor=ADMIN) == []
    assert len(refresh.refresh_due(ctx, actor=ADMIN)) == len(hubs) - 2


def test_a_portal_leased_elsewhere_is_left_alone_and_leases_are_released(ctx: Any, sandbox: Any) -> None:
    hubs = seed_portals(ctx, sandbox.url, 3)
    with ctx.session() as session:
        assert repository.try_acquire_lease(session=session, hub_id=hubs[0], owner="another-worker",
                                            now=utcnow(), ttl=timedelta(minutes=1))
        session.commit()
    assert sorted(o.hub_id for o in refresh.refresh_due(ctx, actor=ADMIN)) == hubs[1:]
    with ctx.session() as session:
        owners = {h: repository.get_portal(session=session, hub_id=h).lease_owner for h in hubs}
    assert owners == {hubs[0]: "another-worker", hubs[1]: None, hubs[2]: None}


def test_import_tokens_stores_a_pair_like_an_install(ctx: Any, sandbox: Any) -> None:
    [hub] = seed_portals(ctx, sandbox.url, 1, due=False)
    with ctx.session() as session:
        portal = repository.get_portal(session=session, hub_id=hub)
        events = repository.list_audit_events(session=session, hub_id=hub)
    assert portal.status == PortalStatus.ACTIVE and portal.hub_domain == f"portal-{hub}.hubspot.com"
    assert portal.granted_scopes == "crm.objects.contacts.read oauth"
    assert [e.action for e in events] == ["import"]
    assert refresh.refresh_portal(ctx, hub, force=True, actor=ADMIN).result == "refreshed"
    assert vault.open_tokens(ctx.cipher, portal).refresh_token  # the imported pair was usable
    with pytest.raises(InputError, match="no refresh_token"):
        install.import_tokens(ctx, actor=ADMIN, token_response_json='{"access_token": "x", "expires_in": 60}')
