"""Who is acting, and what their role allows. Enforced in the services, not only by hidden buttons.

Roles: ``viewer`` sees everything but token material; ``operator`` adds install, refresh and test;
``admin`` adds revoke, key rotation and settings (the token API keys). Permission names are a ``Literal``:
mypy refuses a misspelt one at every ``require`` / ``can``.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    """Roles in rising order; each a ``str`` (stored in API keys, compared with settings text)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


VIEWER, OPERATOR, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN
ROLES: tuple[str, ...] = tuple(Role)

Permission = Literal["view", "install", "refresh", "test", "scopes.save", "revoke", "keys", "settings"]
PERMISSIONS: dict[Permission, Role] = {
    "view": VIEWER,
    "install": OPERATOR,
    "refresh": OPERATOR,
    "test": OPERATOR,
    "scopes.save": OPERATOR,
    "revoke": ADMIN,
    "keys": ADMIN,
    "settings": ADMIN,  # managing the token API keys (admin/api_keys.py); the Settings page shows no secret to anyone
}


@dataclass(frozen=True)
class Actor:
    """The person or process behind an action; ``name`` goes into every audit event."""

    name: str
    role: str = ADMIN

    def can(self, permission: Permission) -> bool:
        needed = PERMISSIONS[permission]
        return self.role in ROLES and ROLES.index(self.role) >= ROLES.index(needed)


def cli_actor(explicit: str | None = None) -> Actor:
    """The CLI runs as the OS user (or ``--actor``) with the admin role: it holds the keys anyway."""
    if explicit:
        return Actor(explicit, ADMIN)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}", ADMIN)

