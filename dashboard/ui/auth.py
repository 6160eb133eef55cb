"""Who is using the dashboard. The one seam where sign-in and roles will plug in (a later issue)."""

from __future__ import annotations

from dashboard.actors import ADMIN, Actor


def current_actor() -> Actor:
    """The person behind this browser session. For now every local user is the local admin."""
    return Actor("local-admin", ADMIN)
