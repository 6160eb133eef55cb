"""Portal rows: read, save, filter and update them (the refresh path's UPDATEs are prebuilt), count them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, func, or_, select, update
from sqlmodel import Session, col

from dashboard.errors import NotFoundError
from dashboard.models import Portal, PortalUpdate
from dashboard.repository._common import LISTING_COLUMNS, _rowcount, app_terms, session_app
from dashboard.repository.portal_scopes import replace_portal_scopes


def get_portal(*, session: Session, hub_id: int) -> Portal | None:
    return session.get(Portal, (session_app(session), hub_id), populate_existing=True)


_P = Portal.metadata.tables["portal"]
_TOKEN_ROWS = select(_P.c.hub_id, _P.c.app, _P.c.status, _P.c.access_token_ct, _P.c.refresh_token_ct, _P.c.key_id,
                     _P.c.binding, _P.c.expires_at, _P.c.token_version, _P.c.last_refresh_at,
                     _P.c.last_refresh_result).where(_P.c.app == bindparam("app"),
                                                     _P.c.hub_id.in_(bindparam("hubs", expanding=True)))


def token_rows(*, session: Session, hub_ids: Collection[int]) -> dict[int, Any]:
    """What the token API needs of these portals (status, sealed access token, expiry, version), by hub id:
    one primary-key read for a whole batch of requests, no ORM objects (dashboard/tokens/reads.py)."""
    if not hub_ids:
        return {}
    rows = session.connection().execute(_TOKEN_ROWS, {"app": session_app(session), "hubs": list(hub_ids)})
    return {row.hub_id: row for row in rows}


def portal_or_not_found(*, session: Session, hub_id: int) -> Portal:
    """The portal row, or :class:`NotFoundError` with the one message every caller shows."""
    portal = get_portal(session=session, hub_id=hub_id)
    if portal is None:
        raise NotFoundError(f"no connected portal with hub id {hub_id}")
    return portal


def save_portal(*, session: Session, portal: Portal) -> None:
    session.add(portal)
    replace_portal_scopes(session=session, hub_id=portal.hub_id, scopes=portal.granted_scopes.split(),
                          app=portal.app)


def portal_filters(
    *, search: str | None = None, statuses: Sequence[str] = (), scope: str | None = None,
    hub_id: int | None = None, exclude_statuses: Sequence[str] = (),
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if exclude_statuses:
        where.append(col(Portal.status).not_in(list(exclude_statuses)))
    if hub_id is not None:
        where.append(col(Portal.hub_id) == hub_id)
    if search and search.strip():
        text = search.strip().lower()
        like = f"%{text.replace('%', '').replace('_', '')}%"
        conds: list[ColumnElement[bool]] = [
            func.lower(col(Portal.hub_domain)).like(like), func.lower(col(Portal.installed_by)).like(like),
        ]
        if text.isdigit():
            conds.append(col(Portal.hub_id) == int(text))
        where.append(or_(*conds))
    if statuses:
        where.append(col(Portal.status).in_(list(statuses)))
    if scope and scope.strip():
        where.append((" " + col(Portal.granted_scopes) + " ").like(f"% {scope.strip()} %"))
    return where


def list_portal_rows(
    *, session: Session, search: str | None = None, statuses: Sequence[str] = (), scope: str | None = None,
    hub_id: int | None = None, limit: int | None = None, offset: int = 0, exclude_statuses: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Portal rows as dicts of :data:`LISTING_COLUMNS`, by hub id."""
    filters = portal_filters(search=search, statuses=statuses, scope=scope, hub_id=hub_id,
                             exclude_statuses=exclude_statuses)
    if hub_id is not None:  # one connection: a primary key lookup
        filters.append(col(Portal.app) == session_app(session))
    else:
        filters.extend(app_terms(session))
    stmt = select(*LISTING_COLUMNS).where(*filters)
    stmt = stmt.order_by(col(Portal.hub_id)).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    # Core execution: the ORM's row loading would add ~50% for 10,000 plain column rows.
    result = session.connection().execute(stmt)
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.fetchall()]


def count_portals(
    *, session: Session, search: str | None = None, statuses: Sequence[str] = (), scope: str | None = None,
) -> int:
    stmt = select(func.count()).select_from(Portal)
    stmt = stmt.where(*portal_filters(search=search, statuses=statuses, scope=scope), *app_terms(session))
    return int(session.execute(stmt).scalar_one())


# The refresh path's UPDATEs are built once: building and cache-keying a 17-column UPDATE on every call cost
# ten times its execution (bench/refresh_sweep.py). The SET columns come from the parameters' keys.
_PORTAL = Portal.metadata.tables["portal"]
_HELD = _PORTAL.c.lease_owner == bindparam("b_lease_owner")
_RELEASING = {"lease_owner": case((_HELD, None), else_=_PORTAL.c.lease_owner),
              "lease_expires_at": case((_HELD, None), else_=_PORTAL.c.lease_expires_at)}
_COLUMNS = frozenset(_PORTAL.c.keys())
_UPDATE = update(_PORTAL).where(_PORTAL.c.app == bindparam("b_app"), _PORTAL.c.hub_id == bindparam("b_hub_id"))
_UPDATE_IF_VERSION = _UPDATE.where(_PORTAL.c.token_version == bindparam("b_version")).values(
    token_version=_PORTAL.c.token_version + 1)
_UPDATE_AT_VERSION = _UPDATE.where(_PORTAL.c.token_version == bindparam("b_version"))  # no bump: no new tokens
_UPDATES = {  # (only if the version still matches, release a lease) -> statement
    (False, False): _UPDATE, (False, True): _UPDATE.values(**_RELEASING),
    (True, False): _UPDATE_IF_VERSION, (True, True): _UPDATE_IF_VERSION.values(**_RELEASING),
}
_UPDATES_AT_VERSION = {False: _UPDATE_AT_VERSION, True: _UPDATE_AT_VERSION.values(**_RELEASING)}


def _update(session: Session, hub_id: int, values: PortalUpdate, *, version: int | None,
            release_lease_of: str | None, bump: bool = True, app: str | None = None) -> bool:
    unknown = values.keys() - _COLUMNS
    if unknown:  # a parameter that names no column would be dropped silently
        raise ValueError(f"not portal columns: {', '.join(sorted(unknown))}")
    app = app or session_app(session)
    params = {**values, "b_app": app, "b_hub_id": hub_id}
    if version is not None:
        params["b_version"] = version
    if release_lease_of is not None:
        params["b_lease_owner"] = release_lease_of
    stmt = _UPDATES[(version is not None, release_lease_of is not None)] if bump or version is None else \
        _UPDATES_AT_VERSION[release_lease_of is not None]
    stored = _rowcount(session.connection().execute(stmt, params)) == 1
    if stored and "granted_scopes" in values:
        replace_portal_scopes(session=session, hub_id=hub_id, scopes=str(values["granted_scopes"]).split(),
                              app=app)
    return stored


def update_portal_if_version(
    *, session: Session, hub_id: int, version: int, values: PortalUpdate, release_lease_of: str | None = None,
    app: str | None = None,
) -> bool:
    """Apply ``values`` and bump ``token_version`` only if nobody changed the tokens since ``version``.

    ``release_lease_of`` also releases that owner's database lease in the same statement. ``app``: the row's
    app when it is not the session's (key rotation rewrites every app's rows).
    """
    return _update(session, hub_id, values, version=version, release_lease_of=release_lease_of, app=app)


def update_portal_at_version(
    *, session: Session, hub_id: int, version: int, values: PortalUpdate, release_lease_of: str | None = None,
    leased_to: str | None = None,
) -> bool:
    """Apply ``values`` only while the row still holds ``version``, leaving ``token_version`` as it is.

    For writes that store no new tokens (a failed refresh): a failure read at an older version never
    overwrites a newer success, and a success read at this version still applies after it.
    ``leased_to``: only while the row's lease is (still) this owner's, i.e. no other worker took it over.
    """
    if leased_to is not None:
        unknown = values.keys() - _COLUMNS
        if unknown:
            raise ValueError(f"not portal columns: {', '.join(sorted(unknown))}")
        stmt = _UPDATES_AT_VERSION[release_lease_of is not None].where(_PORTAL.c.lease_owner == bindparam("b_holder"))
        params = {**values, "b_app": session_app(session), "b_hub_id": hub_id, "b_version": version,
                  "b_holder": leased_to}
        if release_lease_of is not None:
            params["b_lease_owner"] = release_lease_of
        return _rowcount(session.connection().execute(stmt, params)) == 1
    return _update(session, hub_id, values, version=version, release_lease_of=release_lease_of, bump=False)


def update_portal(
    *, session: Session, hub_id: int, values: PortalUpdate, release_lease_of: str | None = None,
) -> bool:
    return _update(session, hub_id, values, version=None, release_lease_of=release_lease_of)


def portal_counts_by_app(*, session: Session) -> dict[str, int]:
    """Portal rows per app (every app, configured or not): the primary key's first column, one index scan."""
    stmt = select(col(Portal.app), func.count()).group_by(col(Portal.app))
    return {str(a): int(n) for a, n in session.execute(stmt)}


def status_counts(*, session: Session) -> dict[str, int]:
    stmt = select(col(Portal.status), func.count()).where(*app_terms(session)).group_by(col(Portal.status))
    return {str(s): int(n) for s, n in session.execute(stmt)}


def expiry_times(*, session: Session, statuses: Sequence[str]) -> list[datetime]:
    stmt = select(col(Portal.expires_at)).where(col(Portal.status).in_(list(statuses)),
                                           col(Portal.expires_at).is_not(None), *app_terms(session))
    return [t for t in session.execute(stmt).scalars() if t is not None]


def earliest_expiry(*, session: Session, statuses: Sequence[str]) -> datetime | None:
    stmt = select(func.min(col(Portal.expires_at))).where(col(Portal.status).in_(list(statuses)),
                                                          *app_terms(session))
    value = session.execute(stmt).scalar_one_or_none()
    return value if isinstance(value, datetime) or value is None else None
