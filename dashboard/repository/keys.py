"""Portal rows by encryption key: what key rotation reads."""

from __future__ import annotations

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session, col

from dashboard.models import Portal


def rows_per_key(*, session: Session) -> dict[str, int]:
    stmt = (
        select(col(Portal.key_id), func.count())
        .where(col(Portal.key_id).is_not(None))
        .group_by(col(Portal.key_id))
    )
    return {str(k): int(n) for k, n in session.execute(stmt)}


def rows_on_old_binding(*, session: Session, binding: int, primary_key_id: str) -> tuple[int, int]:
    """Rows holding tokens bound by a version older than ``binding`` (crypto.associated_data): all of them,
    and those already on the primary key (which only the binding sends to `keys rotate`)."""
    old = and_(col(Portal.key_id).is_not(None), col(Portal.binding) < binding)
    on_primary = func.sum(case((col(Portal.key_id) == primary_key_id, 1), else_=0))
    total, primary = session.execute(select(func.count(), on_primary).where(old)).one()
    return int(total or 0), int(primary or 0)


def first_portal_on_key(*, session: Session, key_id: str) -> Portal | None:
    stmt = select(Portal).where(col(Portal.key_id) == key_id).order_by(col(Portal.hub_id)).limit(1)
    return session.execute(stmt).scalars().first()


def portals_not_on_key(*, session: Session, key_id: str, limit: int, after_hub_id: int | None = None,
                       binding: int | None = None, after_app: str = "") -> list[Portal]:
    """Rows of every app on another key (or, given ``binding``, bound by an older version), by (hub id, app);
    ``after_hub_id``/``after_app`` page on (keyset) past rows a caller skipped."""
    stale = col(Portal.key_id) != key_id
    if binding is not None:
        stale = or_(stale, col(Portal.binding) != binding)
    stmt = (
        select(Portal)
        .where(col(Portal.key_id).is_not(None), stale)
        .order_by(col(Portal.hub_id), col(Portal.app))
        .limit(limit)
    )
    if after_hub_id is not None:
        stmt = stmt.where(or_(col(Portal.hub_id) > after_hub_id,
                              and_(col(Portal.hub_id) == after_hub_id, col(Portal.app) > after_app)))
    return list(session.execute(stmt).scalars())


def portals_with_tokens(*, session: Session, limit: int, after_hub_id: int | None = None,
                        after_app: str = "") -> list[Portal]:
    """Rows of every app holding tokens, by (hub id, app), a page at a time (keyset)."""
    stmt = (select(Portal).where(col(Portal.key_id).is_not(None))
            .order_by(col(Portal.hub_id), col(Portal.app)).limit(limit))
    if after_hub_id is not None:
        stmt = stmt.where(or_(col(Portal.hub_id) > after_hub_id,
                              and_(col(Portal.hub_id) == after_hub_id, col(Portal.app) > after_app)))
    return list(session.execute(stmt).scalars())
