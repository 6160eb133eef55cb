"""Which portals are due for a refresh, and the database leases that let one worker at a time refresh them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, bindparam, func, or_, select, update
from sqlmodel import Session, col

from dashboard.models import Portal, PortalStatus
from dashboard.repository._common import _rowcount, _write, session_app

# The due conditions, built once with bind parameters: a sweep claims its portals in many small batches, and
# building these expressions for each claim cost more than running it (the refresh sweep benchmark).
_NOW: BindParameter[datetime] = bindparam("d_now")
_DUE_BY: BindParameter[datetime] = bindparam("d_due_by")
_ISSUED_BEFORE: BindParameter[datetime] = bindparam("d_issued_before")
_APP: BindParameter[str] = bindparam("d_app")
_LEASE_FREE = or_(col(Portal.lease_owner).is_(None), col(Portal.lease_expires_at) < _NOW)
_DUE = (
    col(Portal.app) == _APP,
    # key problems too: a key that comes back makes them due at once (dashboard/lifecycle/keys.py)
    col(Portal.status).in_([PortalStatus.ACTIVE, PortalStatus.REFRESH_FAILING, "key_missing", "undecryptable"]),
    col(Portal.refresh_token_ct).is_not(None),
    or_(col(Portal.expires_at).is_(None), col(Portal.expires_at) <= _DUE_BY),
    or_(col(Portal.next_attempt_at).is_(None), col(Portal.next_attempt_at) <= _NOW),
    _LEASE_FREE,
    or_(col(Portal.last_refresh_at).is_(None), col(Portal.last_refresh_at) <= _ISSUED_BEFORE,
        func.coalesce(col(Portal.last_refresh_result), "") != "success"),
)
_NO_LIMIT = datetime(9999, 1, 1, tzinfo=UTC)  # "issued before" that leaves no portal out
_HUB_IDS: BindParameter[list[int]] = bindparam("d_hub_ids", expanding=True)
_DUE_IDS = select(col(Portal.hub_id)).where(*_DUE).order_by(col(Portal.expires_at))


def _claim(restricted: bool) -> Any:
    due = _DUE_IDS.where(col(Portal.hub_id).in_(_HUB_IDS)) if restricted else _DUE_IDS
    due = due.limit(bindparam("d_limit")).with_for_update(skip_locked=True)
    return (update(Portal)
            .where(col(Portal.app) == _APP, col(Portal.hub_id).in_(due.scalar_subquery()), _LEASE_FREE)
            .values(lease_owner=bindparam("d_owner"), lease_expires_at=bindparam("d_until")))


_CLAIMS = {restricted: _claim(restricted) for restricted in (False, True)}
# The restricted claim returning the rows it leased, as Portal objects: a sweep's claim and its read of the
# claimed rows in one statement (SQLite 3.35+, PostgreSQL). Built once, like the rest.
_CLAIM_ROWS = select(Portal).from_statement(_CLAIMS[True].returning(*Portal.metadata.tables["portal"].c)
                                            ).execution_options(populate_existing=True)
_LEASED_TO = select(Portal).where(col(Portal.lease_owner) == bindparam("d_owner"), col(Portal.app) == _APP,
                                  col(Portal.hub_id).in_(_HUB_IDS)).order_by(col(Portal.expires_at))


def _due_params(session: Session, now: datetime, within: timedelta,
                issued_before: datetime | None) -> dict[str, Any]:
    """Expiring within ``within``, refreshable now (not reauth/revoked/backing off) and not leased.

    ``issued_before``: also leave out portals a refresh succeeded for after that moment (a token that young
    is never refreshed again automatically, whatever the window); None leaves none out.
    """
    return {"d_app": session_app(session), "d_now": now, "d_due_by": now + within,
            "d_issued_before": issued_before if issued_before is not None else _NO_LIMIT}


def due_hub_ids(*, session: Session, now: datetime, within: timedelta, limit: int | None = None,
                issued_before: datetime | None = None, skip_keys: Sequence[str] = ()) -> list[int]:
    """Portals expiring within ``within`` that may be refreshed now (not reauth/revoked/backing off).

    ``skip_keys``: leave out rows sealed with these key ids (missing keys: nothing could open them)."""
    stmt = _DUE_IDS if not skip_keys else _DUE_IDS.where(col(Portal.key_id).not_in(list(skip_keys)))
    stmt = stmt if limit is None else stmt.limit(limit)
    return [int(h) for h in session.execute(stmt, _due_params(session, now, within, issued_before)).scalars()]


def claim_due_portals(
    *, session: Session, owner: str, now: datetime, within: timedelta, ttl: timedelta, limit: int,
    hub_ids: Sequence[int] | None = None, issued_before: datetime | None = None,
) -> int:
    """Lease up to ``limit`` due portals to ``owner`` in one conditional UPDATE; how many it leased.

    The due conditions (lease free or expired included) are evaluated inside the UPDATE, so two workers
    never claim the same portal; on PostgreSQL the inner select skips rows another claim has locked.
    ``hub_ids`` restricts the claim to those portals (a sweep claims only what was due when it started).
    A sweep runs this per batch. Read the claimed rows with :func:`portals_leased_to` (after the commit:
    they stay leased to ``owner``).
    """
    params = {**_due_params(session, now, within, issued_before), "d_limit": limit, "d_owner": owner,
              "d_until": now + ttl}
    if hub_ids is not None:
        params["d_hub_ids"] = list(hub_ids)
    return _rowcount(session.connection().execute(_CLAIMS[hub_ids is not None], params))


def claim_due_portal_rows(
    *, session: Session, owner: str, now: datetime, within: timedelta, ttl: timedelta, hub_ids: Sequence[int],
    issued_before: datetime | None = None,
) -> list[Portal]:
    """:func:`claim_due_portals` restricted to ``hub_ids`` (at most all of them), returning the rows it leased
    in the order of ``hub_ids``: the claim and :func:`portals_leased_to` in one ``UPDATE ... RETURNING``.

    The rows are the claim's own, read in its transaction: use them only once it has committed (as the two
    calls would). A database without ``UPDATE ... RETURNING`` gets the two calls.
    """
    if not hub_ids:
        return []
    if not session.get_bind().dialect.update_returning:
        claim_due_portals(session=session, owner=owner, now=now, within=within, ttl=ttl, limit=len(hub_ids),
                          hub_ids=hub_ids, issued_before=issued_before)
        return portals_leased_to(session=session, owner=owner, hub_ids=hub_ids)
    params = {**_due_params(session, now, within, issued_before), "d_limit": len(hub_ids), "d_owner": owner,
              "d_until": now + ttl, "d_hub_ids": list(hub_ids)}
    rows = list(session.execute(_CLAIM_ROWS, params).scalars())
    order = {hub_id: n for n, hub_id in enumerate(hub_ids)}
    rows.sort(key=lambda portal: order.get(portal.hub_id, len(order)))
    return rows


def portals_leased_to(*, session: Session, owner: str, hub_ids: Sequence[int]) -> list[Portal]:
    """The rows of ``hub_ids`` (those a claim asked for) leased to ``owner``. The primary key finds them: no
    index covers lease_owner, and a scan per claimed batch made a 10,000-portal sweep quadratic."""
    params = {"d_owner": owner, "d_app": session_app(session), "d_hub_ids": list(hub_ids)}
    return list(session.execute(_LEASED_TO.execution_options(populate_existing=True), params).scalars())


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
