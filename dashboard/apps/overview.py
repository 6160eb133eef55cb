"""The configured apps at a glance, and apps whose connections remain after they left the configuration.

An app removed from ``[apps]`` while its rows remain: its connections stay in the database, bound to it, and
nothing refreshes them (no credentials); the CLI (``apps``) and the Settings page list it with what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.security.guard import require


@dataclass(frozen=True)
class AppSummary:
    """One app as the Settings page and ``apps`` show it. Never a secret: the client id's first characters."""

    id: str
    label: str
    production: bool
    configured: bool
    connections: int
    default: bool = False
    client_id_hint: str = ""
    api_base_url: str = ""

    @property
    def advice(self) -> str:
        if self.configured:
            return ""
        return (f"app {self.id!r} is no longer configured: its {self.connections} connection(s) are kept, "
                f"read-only and not refreshed; declare [apps.{self.id}] again (its client id and secret) to "
                "manage them")


def apps_overview(ctx: AppContext, *, actor: Actor) -> list[AppSummary]:
    """Every configured app (configuration order), then every app that only has rows left (by id)."""
    require(ctx.engine, actor, "view", action="apps.list")
    with ctx.session() as session:
        counts = repository.portal_counts_by_app(session=session)
    found = [AppSummary(c.app_id, c.registry.get(c.app_id).label, c.production, True, counts.get(c.app_id, 0),
                        c.app_id == c.registry.default, c.app.client_id[:4] + "…", c.app.api_base_url)
             for c in ctx.each_app()]
    known = set(ctx.registry.ids)
    return found + [AppSummary(app, app, False, False, n) for app, n in sorted(counts.items()) if app not in known]
