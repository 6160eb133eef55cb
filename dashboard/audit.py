"""Writing audit events: one row per action, with a detail that never holds a secret."""

from __future__ import annotations

from sqlmodel import Session

from dashboard import repository
from dashboard.models import utcnow

MAX_DETAIL = 1000


def record(
    session: Session, *, actor: str, action: str, outcome: str, hub_id: int | None = None, detail: str = "",
) -> None:
    """Add an audit event to ``session`` (committed with the action it describes)."""
    repository.insert_audit_event(session=session, at=utcnow(), actor=actor[:320], hub_id=hub_id, action=action,
                                  outcome=outcome, detail=detail[:MAX_DETAIL])
