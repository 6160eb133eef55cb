"""The audit log: append an event, list events, and ask whether one was recorded lately."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, insert, select, update
from sqlmodel import Session, col

from dashboard.models import AuditEvent
from dashboard.repository._common import session_app

_AUDIT = AuditEvent.metadata.tables["audit_event"]
_INSERT_AUDIT = insert(_AUDIT)
_ADD_COUNT = update(_AUDIT).where(and_(
    _AUDIT.c.at == bindparam("w_at"), _AUDIT.c.app == bindparam("w_app"), _AUDIT.c.actor == bindparam("w_actor"),
    _AUDIT.c.action == bindparam("w_action"), _AUDIT.c.detail == bindparam("w_detail"),
    _AUDIT.c.hub_id.is_not_distinct_from(bindparam("w_hub_id")),
)).values(count=_AUDIT.c.count + bindparam("w_n"))

ReadSlot = tuple[str, str, int | None, str]  # actor, action, hub id, detail


def add_read_counts(*, session: Session, at: datetime, counts: Mapping[ReadSlot, int]) -> None:
    """Add ``counts`` to the rows stamped ``at`` (one per actor, action, hub id and detail), creating the missing.

    Each slot is one UPDATE (found by ``ix_audit_hub_at``) and, the first time, one INSERT, in the caller's
    transaction. On SQLite writers take turns, so a slot gets one row; two PostgreSQL processes that create
    the same slot at the same instant may make two rows for it, whose counts still add up.
    """
    conn, app = session.connection(), session_app(session)
    for (actor, action, hub_id, detail), n in counts.items():
        values = {"at": at, "app": app, "actor": actor, "action": action, "detail": detail, "hub_id": hub_id}
        if conn.execute(_ADD_COUNT, {f"w_{k}": v for k, v in values.items()} | {"w_n": n}).rowcount == 0:
            conn.execute(_INSERT_AUDIT, {**values, "outcome": "success", "count": n})


def add_audit_event(*, session: Session, event: AuditEvent) -> None:
    """Insert ``event`` at once, in the caller's transaction."""
    insert_audit_event(session=session, at=event.at, actor=event.actor, hub_id=event.hub_id, action=event.action,
                       outcome=event.outcome, detail=event.detail)


TIMELINE_FIELDS = ("http_status", "hubspot_status", "hubspot_category", "correlation_id", "answer", "duration_ms",
                   "attempt", "from_state", "to_state")


def insert_audit_event(*, session: Session, at: datetime | None, actor: str, hub_id: int | None, action: str,
                       outcome: str, detail: str, fields: Mapping[str, Any] | None = None, count: int = 1) -> None:
    """Insert an event at once, in the caller's transaction: a prebuilt INSERT of plain values. The ORM flush,
    and even building an ``AuditEvent`` instance, cost a refresh more than the statement (bench/refresh_sweep.py).

    ``fields``: the timeline's columns (:data:`TIMELINE_FIELDS`; others are refused). ``count``: how many
    times the action happened in this row (a per-minute aggregate; 1 for one event)."""
    values: dict[str, Any] = {"at": at, "app": session_app(session), "actor": actor, "hub_id": hub_id,
                              "action": action, "outcome": outcome, "detail": detail, "count": count}
    if fields:
        unknown = set(fields) - set(TIMELINE_FIELDS)
        if unknown:
            raise ValueError(f"not timeline fields: {sorted(unknown)}")
        values.update(fields)
    session.connection().execute(_INSERT_AUDIT, values)


def list_audit_events(
    *, session: Session, hub_id: int | None = None, action: str | None = None, outcome: str | None = None,
    actor: str | None = None, since: datetime | None = None, until: datetime | None = None,
    limit: int = 500,
) -> list[AuditEvent]:
    conds: list[ColumnElement[bool]] = []
    if hub_id is not None:
        conds.extend([col(AuditEvent.hub_id) == hub_id, col(AuditEvent.app) == session_app(session)])
    if action:
        conds.append(col(AuditEvent.action) == action)
    else:  # state transitions are the timeline's (list_timeline), not actions of their own
        conds.append(col(AuditEvent.action) != "transition")
    if outcome:
        conds.append(col(AuditEvent.outcome) == outcome)
    if actor:
        conds.append(col(AuditEvent.actor) == actor)
    if since is not None:
        conds.append(col(AuditEvent.at) >= since)
    if until is not None:
        conds.append(col(AuditEvent.at) <= until)
    stmt = select(AuditEvent).where(*conds).order_by(col(AuditEvent.id).desc()).limit(limit)
    return list(session.execute(stmt).scalars())


def recent_audit_exists(*, session: Session, actor: str, action: str, hub_id: int | None, since: datetime) -> bool:
    stmt = select(col(AuditEvent.id)).where(col(AuditEvent.actor) == actor, col(AuditEvent.action) == action,
                                            col(AuditEvent.at) >= since)
    stmt = stmt.where(col(AuditEvent.hub_id).is_(None) if hub_id is None else col(AuditEvent.hub_id) == hub_id)
    return session.execute(stmt.limit(1)).first() is not None
