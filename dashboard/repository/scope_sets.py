"""Saved scope sets, by name."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlmodel import Session, col

from dashboard.models import ScopeSetRecord
from dashboard.repository._common import _rowcount


def get_scope_set(*, session: Session, name: str) -> ScopeSetRecord | None:
    stmt = select(ScopeSetRecord).where(col(ScopeSetRecord.name) == name)
    return session.execute(stmt).scalars().first()


def list_scope_sets(*, session: Session) -> list[ScopeSetRecord]:
    return list(session.execute(select(ScopeSetRecord).order_by(col(ScopeSetRecord.name))).scalars())


def save_scope_set(*, session: Session, record: ScopeSetRecord) -> None:
    session.add(record)


def delete_scope_set(*, session: Session, name: str) -> bool:
    return _rowcount(session.execute(delete(ScopeSetRecord).where(col(ScopeSetRecord.name) == name))) == 1
