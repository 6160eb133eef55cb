"""Connections as support staff see them: statuses, listing, details, revoke, health check, API calls.

Listing reads only non-secret columns (no decryption). Statuses follow the one rule in
:mod:`dashboard.status`: ``healthy``, ``expiring`` (inside the leeway), ``expired`` (refreshable),
``refresh_failing`` (transient, with count), ``needs_reauth``, key problems, ``revoked``, ``uninstalled``
(the app was uninstalled from the account: kept for the audit trail, left out of listings unless asked
for). Pages of the listing come from :mod:`dashboard.connections.listing` (SQL does the work);
:func:`list_connections` reads everything and stays for small callers and as the reference the SQL path is
tested against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dashboard import repository
from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.errors import ApiAuthError, DashboardError, NotFoundError
from dashboard.hubspot.protocol import TokenInfo
from dashboard.installs.flow import start_install
from dashboard.lifecycle.machine import HealthEvent
from dashboard.lifecycle.transitions import plan, write_transition
from dashboard.models import PortalStatus, utcnow
from dashboard.refresh.service import get_access_token, refresh_portal
from dashboard.security import audit, vault
from dashboard.security.guard import require
from dashboard.status import HIDDEN_BY_DEFAULT as HIDDEN_BY_DEFAULT

# The status rule lives in dashboard.status (its SQL twin in the repository); re-exported for callers.
from dashboard.status import STATUS_LABELS as STATUS_LABELS
from dashboard.status import STATUSES as STATUSES
from dashboard.status import display_status as display_status
from dashboard.status import fresh_since
from dashboard.webhooks import transitions


@dataclass(frozen=True)
class Connection:
    """One portal as shown to people: never token material (only a short fingerprint)."""

    hub_id: int
    hub_domain: str | None
    status: str
    stored_status: str
    expires_at: datetime | None
    granted_scopes: tuple[str, ...]
    requested_scopes: tuple[str, ...]
    requested_optional_scopes: tuple[str, ...]
    missing_optional_scopes: tuple[str, ...]
    last_refresh_at: datetime | None
    last_refresh_result: str | None
    last_error: str | None
    consecutive_failures: int
    installed_by: str | None
    installed_at: datetime | None
    token_fingerprint: str | None
    key_id: str | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        """The CLI's JSON form: ISO 8601 times, lists of scopes, no token material."""

        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "hub_id": self.hub_id, "hub_domain": self.hub_domain, "status": self.status,
            "expires_at": iso(self.expires_at), "granted_scopes": list(self.granted_scopes),
            "requested_scopes": list(self.requested_scopes),
            "requested_optional_scopes": list(self.requested_optional_scopes),
            "missing_optional_scopes": list(self.missing_optional_scopes),
            "last_refresh_at": iso(self.last_refresh_at), "last_refresh_result": self.last_refresh_result,
            "last_error": self.last_error, "consecutive_failures": self.consecutive_failures,
            "installed_by": self.installed_by, "installed_at": iso(self.installed_at),
        }


def connection_from_row(row: dict[str, Any], now: datetime, leeway: timedelta,
                        fresh_after: datetime | None = None) -> Connection:
    granted = tuple(row["granted_scopes"].split())
    optional_text = row["requested_optional_scopes"]
    optional = tuple(optional_text.split()) if optional_text else ()
    # Listing builds one of these per portal (10,000 on a big install). A frozen dataclass's __init__ sets
    # each of its 17 fields through object.__setattr__, about half the cost of a row; filling the new
    # instance's __dict__ gives the same object twice as fast. Every field is set here.
    conn = object.__new__(Connection)
    conn.__dict__.update(
        hub_id=row["hub_id"], hub_domain=row["hub_domain"],
        status=display_status(row["status"], row["expires_at"], now, leeway, row["last_refresh_result"],
                              row["last_refresh_at"], fresh_after),
        stored_status=row["status"],
        expires_at=row["expires_at"], granted_scopes=granted, requested_scopes=tuple(row["requested_scopes"].split()),
        requested_optional_scopes=optional,
        missing_optional_scopes=tuple([s for s in optional if s not in granted]) if optional else (),
        last_refresh_at=row["last_refresh_at"], last_refresh_result=row["last_refresh_result"],
        last_error=row["last_error"], consecutive_failures=row["consecutive_failures"],
        installed_by=row["installed_by"], installed_at=row["installed_at"],
        token_fingerprint=row["token_fingerprint"], key_id=row["key_id"],
    )
    return conn


def list_connections(ctx: AppContext, *, actor: Actor, search: str | None = None,
                     statuses: Sequence[str] = (), scope: str | None = None, limit: int | None = None,
                     offset: int = 0) -> list[Connection]:
    """Connections matching the filters. Display statuses are filtered after derivation; uninstalled portals
    are listed only when ``statuses`` asks for them."""
    require(ctx.engine, actor, "view", action="connections.list")
    now, leeway = utcnow(), timedelta(seconds=ctx.settings.dashboard_refresh_leeway_seconds)
    fresh_after = fresh_since(now, ctx.settings.dashboard_worker_interval_seconds)
    hidden = tuple(s for s in HIDDEN_BY_DEFAULT if s not in statuses)
    with ctx.session() as session:
        rows = repository.list_portal_rows(session=session, search=search, scope=scope, limit=None
                                           if statuses else limit, offset=0 if statuses else offset,
                                           exclude_statuses=hidden)
    conns = [connection_from_row(r, now, leeway, fresh_after) for r in rows]
    if statuses:
        conns = [c for c in conns if c.status in statuses]
        conns = conns[offset:offset + limit] if limit is not None else conns[offset:]
    return conns


def get_connection(ctx: AppContext, hub_id: int, *, actor: Actor) -> Connection:
    """One portal as :class:`Connection`: its row by primary key, never its tokens."""
    require(ctx.engine, actor, "view", action="connections.get", hub_id=hub_id)
    with ctx.session() as session:
        rows = repository.list_portal_rows(session=session, hub_id=hub_id)
    if not rows:
        raise NotFoundError(f"no connected portal with hub id {hub_id}")
    now = utcnow()
    return connection_from_row(rows[0], now, timedelta(seconds=ctx.settings.dashboard_refresh_leeway_seconds),
                               fresh_since(now, ctx.settings.dashboard_worker_interval_seconds))


def summary(connections: Sequence[Connection]) -> dict[str, int]:
    """Counts for the metrics row: connected (not revoked) and one count per status."""
    counts = {s: 0 for s in STATUSES}
    for c in connections:
        counts[c.status] = counts.get(c.status, 0) + 1
    return {"connected": len(connections) - counts["revoked"] - counts.get("uninstalled", 0), **counts}


def reconsent_url(ctx: AppContext, conn: Connection, *, actor: Actor) -> str:
    """A re-consent link: a real pending install (single-use ``state``, 10 minutes) pinned to the portal,
    asking again for what it was asked before, so the callback completes like any install."""
    scopes = conn.requested_scopes or conn.granted_scopes or ("oauth",)
    return start_install(ctx, actor=actor, scopes=scopes, optional_scopes=conn.requested_optional_scopes,
                         account_id=conn.hub_id).url


def token_metadata(ctx: AppContext, hub_id: int, *, actor: Actor) -> TokenInfo:
    """Introspection of the stored access token, on demand. Returns metadata, never the token."""
    require(ctx.engine, actor, "view", action="token.introspect", hub_id=hub_id)
    with ctx.session() as session:
        portal = repository.portal_or_not_found(session=session, hub_id=hub_id)
    return ctx.hubspot.introspect(vault.open_tokens(ctx.cipher, portal).access_token)


def revoke(ctx: AppContext, hub_id: int, *, actor: Actor, local_only: bool = False) -> None:
    """Revoke at HubSpot, then erase the ciphertexts. If HubSpot fails, nothing local changes."""
    require(ctx.engine, actor, "revoke", action="revoke", hub_id=hub_id)
    with ctx.session() as session:
        portal = repository.portal_or_not_found(session=session, hub_id=hub_id)
    already_dead = False
    if not local_only and portal.refresh_token_ct is not None:
        try:
            # Idempotent: a token HubSpot already considers dead (needs re-auth, uninstalled) counts as revoked.
            already_dead = not ctx.hubspot.revoke(vault.open_tokens(ctx.cipher, portal).refresh_token)
        except DashboardError as exc:
            with ctx.session() as session:
                audit.record(session, actor=actor.name, action="revoke", outcome="failure", hub_id=hub_id,
                             detail=exc.description)
                session.commit()
            raise exc.reworded(f"revoking at HubSpot failed, nothing was changed here: {exc.description}") from exc
    now = utcnow()
    change = plan(portal, HealthEvent.REVOKED, now)
    with ctx.session() as session:
        repository.update_portal(session=session, hub_id=hub_id,
                                 values={**vault.disconnected(portal, PortalStatus.REVOKED, now), **change.values})
        write_transition(session, change, actor=actor.name, cause="revoked" + (" locally" if local_only else ""),
                         at=now)
        detail = ("tokens forgotten locally only" if local_only else
                  "HubSpot already considered the refresh token dead; counted as revoked" if already_dead else
                  "refresh token revoked at HubSpot")
        audit.record(session, actor=actor.name, action="revoke.local" if local_only else "revoke",
                     outcome="success", hub_id=hub_id, detail=detail)
        transitions.disconnected(session, portal, PortalStatus.REVOKED, reason=detail)
        session.commit()


def call_api(ctx: AppContext, hub_id: int, method: str, path: str, *, actor: Actor,
             params: dict[str, Any] | None = None, json_body: Any = None) -> Any:
    """A HubSpot API call for ``hub_id``; on 401 it refreshes once and retries."""
    token = get_access_token(ctx, hub_id, actor=actor)
    try:
        return ctx.hubspot.api_call(token, method, path, params=params, json_body=json_body)
    except ApiAuthError as exc:
        if exc.status != 401:
            raise
        refresh_portal(ctx, hub_id, actor=actor, force=True)
        return ctx.hubspot.api_call(get_access_token(ctx, hub_id, actor=actor), method, path, params=params,
                                    json_body=json_body)


@dataclass(frozen=True)
class HealthReport:
    hub_id: int
    healthy: bool
    reason: str
    portal_name: str | None = None
    scopes: tuple[str, ...] = ()


def test_connection(ctx: AppContext, hub_id: int, *, actor: Actor) -> HealthReport:
    """Introspection plus ``GET /account-info/v3/details``: healthy, or the reason it is not."""
    require(ctx.engine, actor, "test", action="test", hub_id=hub_id)
    try:
        token = get_access_token(ctx, hub_id, actor=actor)
        info = ctx.hubspot.introspect(token)
        if not info.active:
            report = HealthReport(hub_id, False, "HubSpot says the access token is not active")
        else:
            ctx.hubspot.api_get(token, "/account-info/v3/details")
            # The portal's own domain comes from introspection; the account API's uiDomain is HubSpot's UI
            # host (app.hubspot.com), which support staff mistook for the portal.
            report = HealthReport(hub_id, True, "token active and account API reachable", info.hub_domain,
                                  info.scopes)
    except DashboardError as exc:
        report = HealthReport(hub_id, False, exc.description)
    with ctx.session() as session:
        audit.record(session, actor=actor.name, action="test", outcome="success" if report.healthy else "failure",
                     hub_id=hub_id, detail=report.reason[:300])
        session.commit()
    return report
test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
