"""Reading the audit log, for the Activity page, portal details and ``python -m dashboard audit``."""

from __future__ import annotations

from datetime import datetime

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.models import AuditEvent
from dashboard.security.guard import require


def audit_events(ctx: AppContext, *, actor: Actor, hub_id: int | None = None, action: str | None = None,
                 outcome: str | None = None, who: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, limit: int = 500) -> list[AuditEvent]:
    """Newest first. ``who`` filters by the acting person; ``actor`` is who is asking."""
    require(ctx.engine, actor, "view", action="audit.list")
    with ctx.session() as session:
        return repository.list_audit_events(session=session, hub_id=hub_id, action=action, outcome=outcome,
                                            actor=who, since=since, until=until, limit=limit)


def hub_domains(ctx: AppContext, *, actor: Actor, hub_ids: list[int]) -> dict[int, str]:
    """The hub domain of each portal in ``hub_ids`` (one primary-key lookup; unknown ids are left out)."""
    require(ctx.engine, actor, "view", action="audit.list")
    wanted = sorted(set(hub_ids))
    with ctx.session() as session:
        rows = repository.portal_rows_by_id(session=session, hub_ids=wanted)
    return {int(r["hub_id"]): str(r["hub_domain"]) for r in rows if r["hub_domain"]}
