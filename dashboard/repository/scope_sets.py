"""Saved scope sets, by name."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlmodel import Session, col

from dashboard.models import ScopeSetRecord
from dashboard.repository._common import _rowcount, session_app

# A scope set belongs to the session's app (each app's scope builder has its own).


def get_scope_set(*, session: Session, name: str) -> ScopeSetRecord | None:
    stmt = select(ScopeSetRecord).where(col(ScopeSetRecord.app) == session_app(session),
                                        col(ScopeSetRecord.name) == name)
    return session.execute(stmt).scalars().first()


def list_scope_sets(*, session: Session) -> list[ScopeSetRecord]:
    stmt = select(ScopeSetRecord).where(col(ScopeSetRecord.app) == session_app(session))
    return list(session.execute(stmt.order_by(col(ScopeSetRecord.name))).scalars())


def save_scope_set(*, session: Session, record: ScopeSetRecord) -> None:
    record.app = session_app(session)
    session.add(record)


def delete_scope_set(*, session: Session, name: str) -> bool:
    stmt = delete(ScopeSetRecord).where(col(ScopeSetRecord.app) == session_app(session),
                                        col(ScopeSetRecord.name) == name)
    return _rowcount(session.execute(stmt)) == 1
