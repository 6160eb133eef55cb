"""Permission checks inside the services: a denied action raises and is audited as denied."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from dashboard.actors import PERMISSIONS, Actor, Permission
from dashboard.errors import PermissionDeniedError
from dashboard.security import audit


def require(engine: Engine, actor: Actor, permission: Permission, *, action: str, hub_id: int | None = None) -> None:
    """Raise :class:`PermissionDeniedError` (and audit it) unless ``actor`` may do ``permission``."""
    if actor.can(permission):
        return
    with Session(engine) as session:
        audit.record(session, actor=actor.name, action=action, outcome="denied", hub_id=hub_id,
                     detail=f"role {actor.role} lacks {permission} (needs {PERMISSIONS[permission]})")
        session.commit()
    raise PermissionDeniedError(
        f"{actor.name} (role {actor.role}) may not {action.replace('.', ' ')}; "
        f"this needs the {PERMISSIONS[permission]} role — ask an admin of this dashboard"
    )
