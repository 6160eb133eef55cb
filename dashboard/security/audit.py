"""Writing audit events: one row per action, with a detail that never holds a secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from dashboard import repository
from dashboard.models import utcnow

MAX_DETAIL = 1000


def record(
    session: Session, *, actor: str, action: str, outcome: str, hub_id: int | None = None, detail: str = "",
    fields: Mapping[str, Any] | None = None,
) -> None:
    """Add an audit event to ``session`` (committed with the action it describes); ``fields``: the
    timeline's columns (HubSpot's answer, duration, attempt: repository.audit.TIMELINE_FIELDS)."""
    repository.insert_audit_event(session=session, at=utcnow(), actor=actor[:320], hub_id=hub_id, action=action,
                                  outcome=outcome, detail=detail[:MAX_DETAIL], fields=fields)
