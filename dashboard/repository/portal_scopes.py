"""The portal_scope table, one row per (app, scope, hub id): granted scopes, indexed for filters and checks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, func, insert, select
from sqlmodel import Session, col

from dashboard.models import Portal, PortalStatus
from dashboard.repository._common import _SCOPES, session_app


def replace_portal_scopes(*, session: Session, hub_id: int, scopes: Sequence[str], app: str | None = None) -> None:
    """Make the portal's rows in portal_scope equal ``scopes`` (called wherever granted_scopes is written)."""
    conn = session.connection()
    app = app or session_app(session)
    unique = sorted(set(scopes))
    mine = and_(_SCOPES.c.app == app, _SCOPES.c.hub_id == hub_id)
    # A refresh usually returns the scopes the portal already has: one indexed read, no write, then.
    if sorted(conn.execute(select(_SCOPES.c.scope).where(mine)).scalars()) == unique:
        return
    conn.execute(delete(_SCOPES).where(mine))
    if unique:
        conn.execute(insert(_SCOPES), [{"app": app, "scope": s, "hub_id": hub_id} for s in unique])


def fill_portal_scopes(*, session: Session) -> int:
    """Rebuild portal_scope from every portal's granted_scopes (for rows written around the repository, such as
    a benchmark's bulk insert). How many pairs it wrote."""
    conn = session.connection()
    conn.execute(delete(_SCOPES))
    rows = conn.execute(select(col(Portal.app), col(Portal.hub_id), col(Portal.granted_scopes))).fetchall()
    pairs = [{"app": a, "scope": s, "hub_id": h} for a, h, granted in rows for s in set((granted or "").split())]
    if pairs:
        conn.execute(insert(_SCOPES), pairs)
    return len(pairs)


def portals_losing_scopes(*, session: Session, keep: Sequence[str], sample: int = 5) -> tuple[int, list[int]]:
    """Connected (not revoked) portals granted a scope outside ``keep``: a link asking only for ``keep`` would
    take those scopes away if used on them. Their number and the first few hub ids (portal_scope does it)."""
    losing = (select(_SCOPES.c.hub_id).distinct()
              .join(Portal, and_(col(Portal.app) == _SCOPES.c.app, col(Portal.hub_id) == _SCOPES.c.hub_id))
              .where(col(Portal.status) != PortalStatus.REVOKED, _SCOPES.c.scope.not_in(list(keep))))
    conn = session.connection()
    count = int(conn.execute(select(func.count()).select_from(losing.subquery())).scalar_one())
    first = [int(h) for h in conn.execute(losing.order_by(_SCOPES.c.hub_id).limit(sample)).scalars()]
    return count, first
