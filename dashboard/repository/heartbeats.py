"""Worker heartbeats (one row per worker id), and the readiness ping that reads their table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlmodel import Session, col

from dashboard.models import WorkerHeartbeat
from dashboard.repository._common import _rowcount, _write


def save_heartbeat(*, session: Session, worker_id: str, values: dict[str, Any]) -> None:
    """Update the worker's row, or insert it on its first write (one writer per worker id: no race)."""
    table = WorkerHeartbeat.metadata.tables["worker_heartbeat"]
    stmt = update(table).where(table.c.worker_id == worker_id).values(**values)
    if _write(session, stmt) == 0:
        session.connection().execute(insert(table).values(worker_id=worker_id, **values))


def list_heartbeats(*, session: Session, limit: int = 100) -> list[WorkerHeartbeat]:
    """Workers, the most recent sweep first (never-swept ones last)."""
    stmt = (select(WorkerHeartbeat)
            .order_by(col(WorkerHeartbeat.last_sweep_ended_at).is_(None),
                      col(WorkerHeartbeat.last_sweep_ended_at).desc())
            .limit(limit))
    return list(session.execute(stmt).scalars())


def delete_heartbeats_before(*, session: Session, before: datetime) -> int:
    """Forget workers silent since ``before`` (stopped or dead long ago)."""
    stmt = delete(WorkerHeartbeat).where(
        func.coalesce(col(WorkerHeartbeat.last_sweep_ended_at), col(WorkerHeartbeat.started_at)) < before)
    return _rowcount(session.execute(stmt))


def ping(*, session: Session) -> None:
    """One round trip to the database (readiness)."""
    session.execute(select(func.count()).select_from(WorkerHeartbeat))
