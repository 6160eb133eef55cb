"""What an install link would do before it is created: lint findings, and the scopes a connected portal
would lose or gain by installing it again.

HubSpot replaces a portal's grant with what the new consent grants, so a link that asks for less than a
portal has takes scopes away without saying so (seen: a general link used on a connected portal removed
three scopes). The New install page shows this preview and refuses a set with error-level findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboard import repository
from dashboard.actors import Actor
from dashboard.connections.service import Connection, get_connection
from dashboard.context import AppContext
from dashboard.errors import NotFoundError
from dashboard.scopes.catalog import ScopeSet
from dashboard.scopes.lint import LintFinding, lint
from dashboard.security.guard import require


@dataclass(frozen=True)
class ScopeChange:
    """A connected portal installing the link: scopes it has and the link does not ask for (lost), and
    required ones it lacks (gained), optional ones it lacks (gained if its tier and the user allow)."""

    hub_id: int
    hub_domain: str | None
    lost: tuple[str, ...]
    gained: tuple[str, ...]
    maybe_gained: tuple[str, ...]


@dataclass(frozen=True)
class LinkPreview:
    findings: list[LintFinding]
    change: ScopeChange | None  # the pinned portal, when it is connected
    portals_losing: int  # for a general link: connected portals that would lose scopes
    losing_sample: list[int]

    @property
    def errors(self) -> list[LintFinding]:
        return [f for f in self.findings if f.level == "error"]


def scope_change(conn: Connection, scope_set: ScopeSet) -> ScopeChange:
    asked = set(scope_set.scope_param()) | set(scope_set.optional_param())
    granted = set(conn.granted_scopes)
    return ScopeChange(hub_id=conn.hub_id, hub_domain=conn.hub_domain, lost=tuple(sorted(granted - asked)),
                       gained=tuple(sorted(set(scope_set.scope_param()) - granted)),
                       maybe_gained=tuple(sorted(set(scope_set.optional_param()) - granted)))


def preview_link(ctx: AppContext, *, actor: Actor, scope_set: ScopeSet, account_id: int | None,
                 app_scopes: ScopeSet | None = None) -> LinkPreview:
    """Lint ``scope_set``; for a pinned, connected portal its scope change; else how many would lose scopes."""
    require(ctx.engine, actor, "view", action="install.preview")
    findings = lint(scope_set, app_scopes=app_scopes)
    if account_id is not None:
        try:
            conn = get_connection(ctx, account_id, actor=actor)
        except NotFoundError:
            return LinkPreview(findings, None, 0, [])
        if conn.status == "revoked":
            return LinkPreview(findings, None, 0, [])
        return LinkPreview(findings, scope_change(conn, scope_set), 0, [])
    keep: Sequence[str] = [*scope_set.scope_param(), *scope_set.optional_param()]
    with ctx.session() as session:
        count, sample = repository.portals_losing_scopes(session=session, keep=keep)
    return LinkPreview(findings, None, count, sample)
