"""Seeding N connected, due portals fast: for the concurrency and crash tests and for bench/.

Every portal is a real sandbox account holding a real token pair. ``via="issue"`` (the default) has the
sandbox mint the pair (``POST /_sandbox/issue``) and stores it through ``install.import_tokens``: the same
row, audit event and introspection as an install, without the consent round trips. ``via="install"`` runs
the whole install flow (start, consent, code exchange), about 5x slower.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx

from dashboard import repository
from dashboard.context import AppContext
from dashboard.installs import flow as install
from dashboard.models import PortalUpdate, utcnow
from tests.utils.lifecycle import ADMIN, add_accounts, install_portal

SEED_SCOPES = ("oauth", "crm.objects.contacts.read")


def seed_portals(ctx: AppContext, sandbox_url: str, count: int, *, via: str = "issue", workers: int = 8,
                 scopes: Sequence[str] = SEED_SCOPES, due: bool = True) -> list[int]:
    """Create ``count`` sandbox accounts, connect each, and (``due``) make every one due for a refresh."""
    hubs = add_accounts(sandbox_url, count)
    with httpx.Client(base_url=sandbox_url, timeout=30) as http:

        def connect(hub_id: int) -> int:
            if via == "install":
                return install_portal(ctx, sandbox_url, scopes=scopes, account_id=hub_id).hub_id
            resp = http.post("/_sandbox/issue", json={"hub_id": hub_id, "scopes": list(scopes)})
            resp.raise_for_status()
            return install.import_tokens(ctx, actor=ADMIN, token_response_json=resp.content).hub_id

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seed") as pool:
            connected = list(pool.map(connect, hubs))
    assert connected == hubs
    if due:
        make_due(ctx, hubs)
    return hubs


def make_due(ctx: AppContext, hub_ids: Sequence[int], *, expires_at: datetime | None = None) -> None:
    """Set ``expires_at`` (default: a minute ago) so the next sweep refreshes these portals.

    A token that expires then was issued long before: a last refresh is moved back by the token's lifetime
    too, or the sweep's guard against refreshing a token issued less than a minute ago would skip it.
    """
    when = expires_at or utcnow() - timedelta(minutes=1)
    with ctx.session() as session:
        for hub_id in hub_ids:
            values: PortalUpdate = {"expires_at": when}
            portal = repository.get_portal(session=session, hub_id=hub_id)
            if portal is not None and portal.last_refresh_at is not None:
                values["last_refresh_at"] = min(portal.last_refresh_at, when - timedelta(minutes=30))
            repository.update_portal(session=session, hub_id=hub_id, values=values)
        session.commit()
