"""Which portals are due for a refresh, and the database leases that let one worker at a time refresh them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlmodel import Session, col

from dashboard.models import Portal, PortalStatus
from dashboard.repository._common import _write, session_app


def _due(now: datetime, within: timedelta, issued_before: datetime | None = None) -> list[ColumnElement[bool]]:
    """Expiring within ``within``, refreshable now (not reauth/revoked/backing off) and not leased.

    ``issued_before``: also leave out portals a refresh succeeded for after that moment (a token that young
    is never refreshed again automatically, whatever the window).
    """
    conds = [
        col(Portal.status).in_([PortalStatus.ACTIVE, PortalStatus.REFRESH_FAILING]),
        col(Portal.refresh_token_ct).is_not(None),
        or_(col(Portal.expires_at).is_(None), col(Portal.expires_at) <= now + within),
        or_(col(Portal.next_attempt_at).is_(None), col(Portal.next_attempt_at) <= now),
        or_(col(Portal.lease_owner).is_(None), col(Portal.lease_expires_at) < now),
    ]
    if issued_before is not None:
        conds.append(or_(col(Portal.last_refresh_at).is_(None), col(Portal.last_refresh_at) <= issued_before,
                         func.coalesce(col(Portal.last_refresh_result), "") != "success"))
    return conds


def due_hub_ids(*, session: Session, now: datetime, within: timedelta, limit: int | None = None,
                issued_before: datetime | None = None) -> list[int]:
    """Portals expiring within ``within`` that may be refreshed now (not reauth/revoked/backing off)."""
    stmt = select(col(Portal.hub_id)).where(col(Portal.app) == session_app(session), *_due(now, within, issued_before)
                                            ).order_by(col(Portal.expires_at))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [int(h) for h in session.execute(stmt).scalars()]


def claim_due_portals(
    *, session: Session, owner: str, now: datetime, within: timedelta, ttl: timedelta, limit: int,
    hub_ids: Sequence[int] | None = None, issued_before: datetime | None = None,
) -> int:
    """Lease up to ``limit`` due portals to ``owner`` in one conditional UPDATE; how many it leased.

    The due conditions (lease free or expired included) are evaluated inside the UPDATE, so two workers
    never claim the same portal; on PostgreSQL the inner select skips rows another claim has locked.
    ``hub_ids`` restricts the claim to those portals (a sweep claims only what was due when it started).
    Read the claimed rows with :func:`portals_leased_to` (after the commit: they stay leased to ``owner``).
    """
    app = col(Portal.app) == session_app(session)  # a sweep refreshes its own app's connections
    where = [app, *_due(now, within, issued_before)]
    if hub_ids is not None:
        where.append(col(Portal.hub_id).in_(list(hub_ids)))
    due = (
        select(col(Portal.hub_id)).where(*where).order_by(col(Portal.expires_at)).limit(limit)
        .with_for_update(skip_locked=True)
    )
    return _write(session, update(Portal)
                  .where(app, col(Portal.hub_id).in_(due.scalar_subquery()),
                         or_(col(Portal.lease_owner).is_(None), col(Portal.lease_expires_at) < now))
                  .values(lease_owner=owner, lease_expires_at=now + ttl))


def portals_leased_to(*, session: Session, owner: str, hub_ids: Sequence[int] | None = None) -> list[Portal]:
    """Rows leased to ``owner``. Give the ``hub_ids`` a claim asked for: then the primary key finds them (no
    index covers lease_owner, and a scan per claimed batch made a 10,000-portal sweep quadratic)."""
    stmt = select(Portal).where(col(Portal.lease_owner) == owner)
    if hub_ids is not None:
        stmt = stmt.where(col(Portal.app) == session_app(session), col(Portal.hub_id).in_(list(hub_ids)))
    stmt = stmt.order_by(col(Portal.expires_at))
    return list(session.execute(stmt.execution_options(populate_existing=True)).scalars())


def try_acquire_lease(
    *, session: Session, hub_id: int, owner: str, now: datetime, ttl: timedelta,
) -> bool:
    """Take the portal's refresh lease when it is free or expired. True when this owner got it."""
    stmt = (
        update(Portal)
        .where(
            col(Portal.app) == session_app(session), col(Portal.hub_id) == hub_id,
            or_(col(Portal.lease_owner).is_(None), col(Portal.lease_expires_at) < now,
                col(Portal.lease_owner) == owner),
        )
        .values(lease_owner=owner, lease_expires_at=now + ttl)
    )
    return _write(session, stmt) == 1


def release_lease(*, session: Session, hub_id: int, owner: str) -> None:
    """Release only a lease this owner holds (compare-and-delete)."""
    _write(session, update(Portal)
           .where(col(Portal.app) == session_app(session), col(Portal.hub_id) == hub_id,
                  col(Portal.lease_owner) == owner)
           .values(lease_owner=None, lease_expires_at=None))
