"""Refreshing tokens: one portal under a lease, or every due portal with bounded concurrency.

The Authlib pattern, across processes: check expiry with leeway, take the portal's lease, re-read the row
under it and do nothing if another process already refreshed, then store the new tokens in one
transaction. The old refresh token is kept when HubSpot omits a new one. ``invalid_grant`` means the
grant is dead: ``needs_reauth``, never retried automatically. Transient failures leave the tokens
untouched and back off.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dashboard import alerts, audit, repository, vault
from dashboard.actors import SYSTEM, Actor
from dashboard.context import AppContext
from dashboard.errors import DashboardError, InvalidGrantError, NotFoundError, StorageError, TransientError
from dashboard.guard import require
from dashboard.models import Portal, PortalStatus, utcnow

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class RefreshOutcome:
    """What happened to one portal: refreshed, fresh (nothing to do), busy, failed, needs_reauth, skipped."""

    hub_id: int
    result: str
    expires_at: datetime | None = None
    message: str = ""


def backoff_for(failures: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour."""
    return min(timedelta(seconds=30 * 2 ** max(0, failures - 1)), MAX_BACKOFF)


def lease_ttl(ctx: AppContext) -> timedelta:
    # Longer than the slowest refresh: every retry attempt timing out plus the backoff between them.
    return timedelta(seconds=ctx.settings.dashboard_http_timeout_seconds * 3 + 30)


def _needs_refresh(portal: Portal, now: datetime, leeway: timedelta) -> bool:
    return portal.expires_at is None or portal.expires_at <= now + leeway


def refresh_portal(ctx: AppContext, hub_id: int, *, actor: Actor = SYSTEM, force: bool = False,
                   automatic: bool = False) -> RefreshOutcome:
    """Refresh one portal. ``force`` refreshes even a fresh token; ``automatic`` is the worker's call."""
    require(ctx.engine, actor, "refresh", action="refresh", hub_id=hub_id)
    owner = uuid.uuid4().hex
    if not ctx.leases.acquire(hub_id, owner, lease_ttl(ctx)):
        with ctx.session() as session:  # a database lease cannot be taken on a missing row
            if repository.get_portal(session=session, hub_id=hub_id) is None:
                raise NotFoundError(f"no connected portal with hub id {hub_id}")
        return RefreshOutcome(hub_id, "busy", message="another process is refreshing this portal right now")
    try:
        return _refresh_under_lease(ctx, hub_id, actor=actor, force=force, automatic=automatic)
    finally:
        try:
            ctx.leases.release(hub_id, owner)
        except StorageError:
            log.warning("could not release the lease of hub %s; it expires on its own", hub_id)


def _refresh_under_lease(ctx: AppContext, hub_id: int, *, actor: Actor, force: bool,
                         automatic: bool) -> RefreshOutcome:
    leeway = timedelta(seconds=ctx.settings.dashboard_refresh_leeway_seconds)
    now = utcnow()
    with ctx.session() as session:
        portal = repository.get_portal(session=session, hub_id=hub_id)
    if portal is None:
        raise NotFoundError(f"no connected portal with hub id {hub_id}")
    if portal.status == PortalStatus.REVOKED or portal.refresh_token_ct is None:
        return RefreshOutcome(hub_id, "skipped", message="this connection was revoked; reinstall it")
    if automatic and portal.status == PortalStatus.NEEDS_REAUTH:
        return RefreshOutcome(hub_id, "skipped", message="needs re-authorization; not retried automatically")
    if not force and not _needs_refresh(portal, now, leeway):
        # Re-checked under the lease: another process refreshed while we waited.
        return RefreshOutcome(hub_id, "fresh", portal.expires_at, "the access token is still fresh")
    tokens = vault.open_tokens(ctx.cipher, portal)
    try:
        resp = ctx.hubspot.refresh(tokens.refresh_token)
    except InvalidGrantError as exc:
        return _record_failure(ctx, portal, actor, exc, reauth=True)
    except (TransientError, DashboardError) as exc:
        return _record_failure(ctx, portal, actor, exc, reauth=False)
    now = utcnow()
    new_pair = vault.TokenPair(resp.access_token, resp.refresh_token or tokens.refresh_token)
    values: dict[str, Any] = {
        **vault.seal(ctx.cipher, hub_id, new_pair),
        "expires_at": now + timedelta(seconds=resp.expires_in), "last_refresh_at": now,
        "last_refresh_result": "success", "last_error": None, "consecutive_failures": 0,
        "next_attempt_at": None, "status": PortalStatus.ACTIVE, "updated_at": now,
    }
    if resp.scopes:
        values["granted_scopes"] = " ".join(sorted(resp.scopes))
    rotated = resp.refresh_token is not None and resp.refresh_token != tokens.refresh_token
    with ctx.session() as session:
        stored = repository.update_portal_if_version(session=session, hub_id=hub_id,
                                                     version=portal.token_version, values=values)
        audit.record(session, actor=actor.name, action="refresh", outcome="success" if stored else "conflict",
                     hub_id=hub_id, detail=f"expires_in={resp.expires_in}s; "
                     f"refresh token {'rotated' if rotated else 'kept'}")
        session.commit()
    if portal.consecutive_failures >= ctx.settings.dashboard_alert_failure_threshold or \
            portal.status == PortalStatus.NEEDS_REAUTH:
        alerts.send_alert(ctx, event="recovered", hub_id=hub_id, hub_domain=portal.hub_domain,
                          status=PortalStatus.ACTIVE, detail="refresh succeeded")
    if not stored:
        return RefreshOutcome(hub_id, "conflict", message="the portal was reinstalled meanwhile; kept the new install")
    return RefreshOutcome(hub_id, "refreshed", values["expires_at"], "refreshed")


def _record_failure(ctx: AppContext, portal: Portal, actor: Actor, exc: DashboardError, *,
                    reauth: bool) -> RefreshOutcome:
    now = utcnow()
    failures = portal.consecutive_failures + 1
    if reauth:
        values: dict[str, Any] = {"status": PortalStatus.NEEDS_REAUTH, "last_refresh_result": "invalid_grant",
                  "next_attempt_at": None}
    else:
        values = {"status": PortalStatus.REFRESH_FAILING, "last_refresh_result": exc.code,
                  "next_attempt_at": now + backoff_for(failures)}
    values.update({"last_error": exc.description[:500], "consecutive_failures": failures, "last_refresh_at": now,
                   "updated_at": now})
    with ctx.session() as session:
        repository.update_portal(session=session, hub_id=portal.hub_id, values=values)
        audit.record(session, actor=actor.name, action="refresh", outcome="failure", hub_id=portal.hub_id,
                     detail=f"{exc.code}: {exc.description[:300]}")
        session.commit()
    if reauth and portal.status != PortalStatus.NEEDS_REAUTH:
        alerts.send_alert(ctx, event="needs_reauth", hub_id=portal.hub_id, hub_domain=portal.hub_domain,
                          status=PortalStatus.NEEDS_REAUTH, detail=exc.description, failures=failures)
    elif not reauth and failures == ctx.settings.dashboard_alert_failure_threshold:
        alerts.send_alert(ctx, event="refresh_failing", hub_id=portal.hub_id, hub_domain=portal.hub_domain,
                          status=PortalStatus.REFRESH_FAILING, detail=exc.description, failures=failures)
    result = "needs_reauth" if reauth else "failed"
    return RefreshOutcome(portal.hub_id, result, portal.expires_at, exc.description)


def refresh_due(ctx: AppContext, *, within: timedelta | None = None, concurrency: int = 8,
                actor: Actor = SYSTEM, limit: int | None = None) -> list[RefreshOutcome]:
    """Refresh every portal expiring within ``within`` (default: the leeway), ``concurrency`` at a time."""
    within = within if within is not None else timedelta(seconds=ctx.settings.dashboard_refresh_leeway_seconds)
    with ctx.session() as session:
        due = repository.due_hub_ids(session=session, now=utcnow(), within=within, limit=limit)
    if not due:
        return []

    def one(hub_id: int) -> RefreshOutcome:
        try:
            return refresh_portal(ctx, hub_id, actor=actor, automatic=True)
        except DashboardError as exc:
            return RefreshOutcome(hub_id, "failed", message=exc.description)

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="refresh") as pool:
        return list(pool.map(one, due))


def get_access_token(ctx: AppContext, hub_id: int, *, actor: Actor = SYSTEM) -> str:
    """A valid access token for ``hub_id``, refreshed first when it expires within the leeway."""
    leeway = timedelta(seconds=ctx.settings.dashboard_refresh_leeway_seconds)
    with ctx.session() as session:
        portal = repository.get_portal(session=session, hub_id=hub_id)
    if portal is None:
        raise NotFoundError(f"no connected portal with hub id {hub_id}")
    if _needs_refresh(portal, utcnow(), leeway):
        outcome = refresh_portal(ctx, hub_id, actor=actor)
        if outcome.result in ("failed", "needs_reauth", "skipped"):
            raise InvalidGrantError(outcome.message) if outcome.result == "needs_reauth" else \
                TransientError(f"cannot refresh portal {hub_id}: {outcome.message}")
        with ctx.session() as session:
            portal = repository.get_portal(session=session, hub_id=hub_id)
        assert portal is not None
    return vault.open_tokens(ctx.cipher, portal).access_token
